using System.Security.Cryptography;
using Messenger.Client;

namespace Messenger.Tests.Rudp;

public sealed class PartFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("partfile-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(0, false, PartFile.DefaultWindowBytes)]
    [InlineData(1_000, true, PartFile.DefaultWindowBytes)]
    [InlineData(3 * (1 << 20) + 777, false, PartFile.DefaultWindowBytes)] // in order: hashed from the window as it is written
    [InlineData(3 * (1 << 20) + 777, true, PartFile.DefaultWindowBytes)] // shuffled, all within the window: wrapped runs and a remainder
    [InlineData(3 * (1 << 20) + 777, true, 64 * 1024)] // shuffled past a small window: most segments spill to the file and are read back
    [InlineData(300_000, true, 10_000)] // a window that is no multiple of the segment: segments wrap around its end
    public void Segments_written_in_any_order_give_the_file_and_its_sha256(int size, bool shuffled, int window)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        const int segment = 1_400;
        int segments = (size + segment - 1) / segment;
        var order = Enumerable.Range(0, segments).ToArray();
        if (shuffled) new Random(7).Shuffle(order);
        string path = Path.Combine(_folder, "f.part");

        var part = new PartFile(path, size, window);
        var arrived = new bool[segments];
        int prefix = 0;
        foreach (int s in order)
        {
            part.Write((long)s * segment, content.AsSpan(s * segment, Math.Min(segment, size - s * segment)));
            arrived[s] = true;
            while (prefix < segments && arrived[prefix]) prefix++;
            part.HashUpTo(Math.Min((long)prefix * segment, size));
        }
        string sha = part.Complete();

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), sha);
        Assert.Equal(content, File.ReadAllBytes(path));
        part.Dispose(); // a second dispose (the receiver's PostStop) is harmless
    }

    [Fact]
    public void A_hole_that_stays_open_past_the_window_is_filled_from_the_file()
    {
        // Segment 0 is lost for longer than the window holds: what follows it spills to the file
        // (in runs, and one segment inside a spilled run's reach), then the prefix goes out in one go.
        const int segment = 1_000, segments = 50;
        var content = new byte[segment * segments];
        new Random(3).NextBytes(content);
        string path = Path.Combine(_folder, "h.part");
        var part = new PartFile(path, content.Length, windowBytes: 8 * segment);
        for (int s = 1; s < segments; s++)
            part.Write((long)s * segment, content.AsSpan(s * segment, segment));
        part.HashUpTo(0);
        part.Write(0, content.AsSpan(0, segment));
        part.HashUpTo(content.Length);
        string sha = part.Complete();

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), sha);
        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_write_past_the_end_is_refused()
    {
        using var part = new PartFile(Path.Combine(_folder, "g.part"), 100);
        Assert.Throws<ArgumentOutOfRangeException>(() => part.Write(90, new byte[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => part.Write(101, new byte[1]));
        part.Write(90, new byte[10]);
    }
}
