using Akka.Configuration;
using Messenger.Hosting;
using Messenger.Net;
using Messenger.Tests.Support;

namespace Messenger.Tests.Net;

/// <summary>How the listeners' socket settings are read from the shipped HOCON and from overrides.</summary>
public class ListenerConfigTests
{
    [Fact]
    public void Chat_connections_run_the_transport_inline_and_downloads_on_the_thread_pool()
    {
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString(""));

        Assert.True(ListenerConfig.Read(config, "messenger.chat", 10, null).InlineIo);
        Assert.False(ListenerConfig.Read(config, "messenger.files", 10, null).InlineIo);
    }

    [Fact]
    public void Inline_io_can_be_turned_off()
    {
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString("messenger.chat.socket.inline-io = off"));

        Assert.False(ListenerConfig.Read(config, "messenger.chat", 10, null).InlineIo);
    }

    [Fact]
    public void A_self_signed_certificate_lives_in_the_data_folder_and_is_kept_there()
    {
        using var data = new TempFolder();
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString(
            $"messenger.data = {System.Text.Json.JsonSerializer.Serialize(data.Path)}\nmessenger.tls.self-signed = on"));

        var made = ListenerConfig.Certificate(config, out var note)!;
        Assert.Contains($"created in {data.File("tls-self-signed.pfx")}", note);
        // The next start, from whatever working directory, finds the same certificate: clients' pins still match.
        var kept = ListenerConfig.Certificate(config, out note)!;
        Assert.Contains($"kept in {data.File("tls-self-signed.pfx")}", note);
        Assert.Equal(TlsCertificates.Fingerprint(made), TlsCertificates.Fingerprint(kept));
    }
}
