using System.Diagnostics;
using Messenger.TerminalClient;

namespace Messenger.Tests.Support;

/// <summary>
/// The terminal client as its own process, as a user runs it: the built client under <c>dotnet</c>, or,
/// when MESSENGER_TEST_CLIENT names one, a native executable (the Native AOT publish, which .ci/run
/// tests this way). The tests that start it carry the trait <c>Client=Process</c>.
/// </summary>
public static class ClientProcess
{
    public const string Trait = "Client";
    public const string TraitValue = "Process";

    /// <summary>The program to start and the arguments that come before the client's own.</summary>
    public static (string Program, string[] Prefix) Command()
    {
        if (Environment.GetEnvironmentVariable("MESSENGER_TEST_CLIENT") is { Length: > 0 } native)
            return File.Exists(native) ? (Path.GetFullPath(native), [])
                : throw new InvalidOperationException($"MESSENGER_TEST_CLIENT names {native}, which does not exist");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return (dotnet, [typeof(Cli).Assembly.Location]);
    }

    /// <summary>The command as one line for a shell, each word in single quotes.</summary>
    public static string ShellCommand()
    {
        var (program, prefix) = Command();
        return string.Join(' ', new[] { program }.Concat(prefix).Select(w => $"'{w}'"));
    }

    /// <summary>Runs the client to its end with <paramref name="args"/>: its exit code (0 expected), stdout and stderr.</summary>
    public static async Task<(string Out, string Err)> RunAsync(params string[] args)
    {
        var (program, prefix) = Command();
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in prefix.Concat(args)) info.ArgumentList.Add(arg);

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the client process did not end within 60 s; stderr: {await stderr}");
        }
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}; stderr: {await stderr}");
        return (await stdout, await stderr);
    }
}
