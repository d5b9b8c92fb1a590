using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Messenger.Net;
using Messenger.Persistence;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>Starts that must fail: at once, with one line that names the cause, and a non-zero exit code.</summary>
public class ServerStartTests
{
    /// <summary>A failed start of a server process on a busy 2-core machine: the runtime's start-up, then the refusal.</summary>
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_second_server_on_a_data_folder_in_use_is_refused_and_the_first_loses_nothing()
    {
        using var data = new TempFolder();
        await using (var first = await TestServer.StartAsync(data: data))
        {
            var refused = await Assert.ThrowsAsync<DataFolderInUseException>(() => TestServer.StartAsync(data: data));
            Assert.Contains($"the data folder {data.Path} is in use by another server", refused.Message);

            await using var alice = await first.LoginAsync("alice");
            await alice.SendAsync(new SayCommand("still mine"));
            Assert.Equal(1, (await alice.ExpectAsync<MessageFrame>()).Id);
        }
        // Stopped, the first leaves the folder free.
        await using var next = await TestServer.StartAsync(data: data);
        await using var bob = await next.LoginAsync("bob");
        await bob.SendAsync(new SayCommand("after"));
        Assert.Equal(2, (await bob.ExpectAsync<MessageFrame>()).Id);
    }

    [Fact]
    public async Task A_server_process_on_a_data_folder_in_use_exits_with_one_line_naming_it()
    {
        using var data = new TempFolder();
        await using var first = await TestServer.StartAsync(data: data);
        var (code, output) = await RunServerAsync("--data", data.Path);
        Assert.Equal(1, code);
        Assert.Contains($"cannot start: the data folder {data.Path} is in use by another server", output);
    }

    [Theory]
    [InlineData("messenger.chat.port", "chat", SocketType.Stream)]
    [InlineData("messenger.files.port", "files tcp", SocketType.Stream)]
    [InlineData("messenger.rudp.port", "files udp", SocketType.Dgram)]
    [InlineData("messenger.cluster.port", "cluster", SocketType.Stream)]
    public async Task A_port_in_use_fails_the_start_with_one_line_naming_the_port_and_its_channel(string setting, string channel, SocketType type)
    {
        using var taken = Take(type);
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        var refused = await Assert.ThrowsAsync<ListenFailedException>(() => TestServer.StartAsync($"{setting} = {port}"));
        Assert.Equal($"cannot listen on 127.0.0.1:{port} ({channel}): address already in use", refused.Message);
    }

    [Fact]
    public async Task A_server_process_whose_chat_port_is_in_use_exits_with_that_line_and_no_stack_trace()
    {
        using var taken = Take(SocketType.Stream);
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var (code, output) = await RunServerAsync("--chat-port", port.ToString());
        Assert.Equal(1, code);
        Assert.Equal($"cannot start: cannot listen on 127.0.0.1:{port} (chat): address already in use", output.TrimEnd().Split('\n')[^1]);
        Assert.DoesNotContain("   at ", output);
    }

    [Theory]
    [InlineData("--chat-port", "70000", "--chat-port must be a port, 0-65535")]
    [InlineData("--udp-port", "-1", "--udp-port must be a port, 0-65535")]
    [InlineData("--seed-node", "foo", "--seed-node: a seed node is HOST:PORT, not \"foo\"")]
    [InlineData("--no-such-flag", "1", "--no-such-flag")]
    public async Task A_bad_flag_is_refused_before_anything_starts_with_exit_code_2(string flag, string value, string error)
    {
        var (code, output) = await RunServerAsync(flag, value);
        Assert.Equal(2, code);
        Assert.Equal(["error: ", "run with --help for usage"], output.TrimEnd().Split('\n').Select(l => l.StartsWith("error: ") ? "error: " : l).Distinct());
        Assert.Contains(error, output);
    }

    [Fact]
    public async Task A_server_process_with_a_bad_value_in_its_config_file_names_the_key_and_exits_with_code_2()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("bad.hocon"), "messenger.chat.login-timeout = abc\n");
        var (code, output) = await RunServerAsync("--config", folder.File("bad.hocon"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: messenger.chat.login-timeout = abc: not a duration", output.TrimEnd().Split('\n')[^1]);
    }

    /// <summary>A socket on a free port of 127.0.0.1, held until disposed.</summary>
    private static Socket Take(SocketType type)
    {
        var socket = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        if (type == SocketType.Stream) socket.Listen();
        return socket;
    }

    /// <summary>Runs a server process that is expected to exit; every port 0 unless given; its exit code and everything it wrote.</summary>
    internal static async Task<(int Code, string Output)> RunServerAsync(params string[] args)
    {
        using var files = new TempFolder();
        using var ownData = new TempFolder();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Messenger.Server.dll"));
        foreach (var (flag, value) in new[] { ("--chat-port", "0"), ("--file-port", "0"), ("--udp-port", "0"), ("--cluster-port", "0"),
                     ("--files", files.Path), ("--data", ownData.Path) })
        {
            if (args.Contains(flag)) continue;
            info.ArgumentList.Add(flag);
            info.ArgumentList.Add(value);
        }
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ExitTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"the server did not exit within {ExitTimeout}:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
