using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Messenger.Files;
using Messenger.Protocol;

namespace Messenger.Client;

/// <summary>
/// Downloads one file over the TCP file channel with a ticket from the control channel.
/// Bytes go to <c>NAME.part</c> beside the target while the SHA-256 is computed on the way;
/// the part file is renamed into place only when the hash matches. An existing part file is
/// resumed from its length (its bytes are hashed first); a reliable-UDP download's part file has
/// another name (<see cref="PartFile.PathFor"/>) and is never taken for one.
/// </summary>
public static class TcpDownload
{
    private const int BufferBytes = 256 * 1024;

    public static async Task<DownloadResult> RunAsync(string host, TicketFrame ticket, string outputFolder,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default, ClientTls? tls = null)
    {
        if (!FileNames.IsPlain(ticket.File)) throw new DownloadFailedException(ErrorCodes.NoSuchFile, $"refusing unsafe file name \"{ticket.File}\"");
        Directory.CreateDirectory(outputFolder);
        var target = Path.Combine(outputFolder, ticket.File);
        var partPath = target + ".part";
        var clock = Stopwatch.StartNew();

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var part = new FileStream(partPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, BufferBytes, useAsync: true);
        long offset = part.Length <= ticket.Size ? part.Length : 0;
        if (offset == 0) part.SetLength(0);
        else await HashExistingAsync(part, offset, hash, cancel);

        await using var stream = (await ClientTransport.ConnectAsync(host, ticket.Port, tls, 1 << 20, cancel)).Stream;
        await stream.WriteAsync(ChatCodec.EncodeTicketRequest(new TicketRequest(ticket.Ticket, offset)), cancel);

        var buffer = new byte[BufferBytes];
        var (header, leftoverStart, leftoverEnd) = await ReadHeaderAsync(stream, buffer, cancel);
        var firstByte = clock.Elapsed;
        if (header.Size != ticket.Size || header.Sha256 != ticket.Sha256 || header.Offset != offset)
            throw new DownloadFailedException(ErrorCodes.BadRequest, "the file channel's header does not match the ticket");

        long done = offset;
        part.Position = offset;
        var lastReport = TimeSpan.Zero;
        async Task WriteAsync(ReadOnlyMemory<byte> data)
        {
            if (done + data.Length > header.Size) throw new DownloadFailedException(ErrorCodes.BadRequest, "the server sent more bytes than announced");
            hash.AppendData(data.Span);
            await part.WriteAsync(data, cancel);
            done += data.Length;
            if (progress is not null && (clock.Elapsed - lastReport > TimeSpan.FromMilliseconds(100) || done == header.Size))
            {
                lastReport = clock.Elapsed;
                progress.Report(new DownloadProgress(ticket.File, done, header.Size, (done - offset) / Math.Max(clock.Elapsed.TotalSeconds, 1e-6), clock.Elapsed));
            }
        }

        if (leftoverEnd > leftoverStart) await WriteAsync(buffer.AsMemory(leftoverStart, leftoverEnd - leftoverStart));
        while (done < header.Size)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, header.Size - done)), cancel);
            if (n == 0) throw new DownloadFailedException("cut", $"the connection closed after {done} of {header.Size} bytes; run again to resume");
            await WriteAsync(buffer.AsMemory(0, n));
        }
        progress?.Report(new DownloadProgress(ticket.File, done, header.Size, (done - offset) / Math.Max(clock.Elapsed.TotalSeconds, 1e-6), clock.Elapsed));
        await part.FlushAsync(cancel);
        await part.DisposeAsync();

        var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
        bool verified = sha == header.Sha256;
        if (verified) File.Move(partPath, target, overwrite: true);
        else File.Delete(partPath); // its bytes are wrong somewhere: do not resume from them
        return new DownloadResult(ticket.File, target, header.Size - offset, clock.Elapsed, verified, sha,
            Error: verified ? null : "SHA-256 mismatch", FirstByte: firstByte);
    }

    private static async Task HashExistingAsync(FileStream part, long length, IncrementalHash hash, CancellationToken cancel)
    {
        var buffer = new byte[BufferBytes];
        part.Position = 0;
        for (long left = length; left > 0;)
        {
            int n = await part.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancel);
            if (n == 0) break;
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
    }

    /// <summary>Reads the header line; returns it and where in <paramref name="buffer"/> the file's first bytes are.</summary>
    private static async Task<(FileHeaderFrame Header, int Start, int End)> ReadHeaderAsync(Stream stream, byte[] buffer, CancellationToken cancel)
    {
        int filled = 0;
        while (true)
        {
            int newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
            if (newline >= 0)
            {
                var parsed = ChatCodec.ParseFrame(buffer.AsSpan(0, newline));
                return parsed.Value switch
                {
                    FileHeaderFrame header => (header, newline + 1, filled),
                    ErrorFrame error => throw new DownloadFailedException(error.Code, error.Message),
                    _ => throw new DownloadFailedException(ErrorCodes.BadRequest, "the file channel did not answer with a header"),
                };
            }
            if (filled >= 4096) throw new DownloadFailedException(ErrorCodes.BadRequest, "the file channel's header line is too long");
            int n = await stream.ReadAsync(buffer.AsMemory(filled), cancel);
            if (n == 0) throw new DownloadFailedException("closed", "the file channel closed before its header");
            filled += n;
        }
    }
}
