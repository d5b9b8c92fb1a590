using System.Security.Cryptography;
using Messenger.Client;

namespace Messenger.Tests.Rudp;

public sealed class PartFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("partfile-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(0, false)]
    [InlineData(1_000, true)]
    [InlineData(3 * (1 << 20) + 777, false)] // in order: hashed as it is staged
    [InlineData(3 * (1 << 20) + 777, true)] // shuffled: holes filled later are read back; more than one hashing chunk, and a remainder
    public void Segments_written_in_any_order_give_the_file_and_its_sha256(int size, bool shuffled)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        const int segment = 1_400;
        int segments = (size + segment - 1) / segment;
        var order = Enumerable.Range(0, segments).ToArray();
        if (shuffled) new Random(7).Shuffle(order);
        string path = Path.Combine(_folder, "f.part");

        var part = new PartFile(path, size);
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
    public void A_write_past_the_end_is_refused()
    {
        using var part = new PartFile(Path.Combine(_folder, "g.part"), 100);
        Assert.Throws<ArgumentOutOfRangeException>(() => part.Write(90, new byte[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => part.Write(101, new byte[1]));
        part.Write(90, new byte[10]);
    }
}
