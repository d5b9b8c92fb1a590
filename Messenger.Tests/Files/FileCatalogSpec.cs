using System.Security.Cryptography;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Files;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.Files;

public sealed class FileCatalogSpec : TestKit, IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly TempFolder _outside = new();

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private FilesFrame List(IActorRef catalog)
    {
        catalog.Tell(ListFiles.Instance);
        return ExpectMsg<FilesFrame>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Catalog_must_list_regular_files_sorted_with_sizes_and_hashes()
    {
        File.WriteAllText(_folder.File("b.txt"), "bee");
        File.WriteAllText(_folder.File("a.txt"), "a");
        Directory.CreateDirectory(_folder.File("subdir"));
        File.WriteAllText(Path.Combine(_folder.File("subdir"), "hidden.txt"), "not offered");
        var catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path));

        var files = List(catalog).Files;
        Assert.Equal(["a.txt", "b.txt"], files.Select(f => f.Name));
        Assert.Equal(3, files[1].Size);
        Assert.Equal(Sha(_folder.File("b.txt")), files[1].Sha256);
    }

    [Fact]
    public void Catalog_must_offer_links_inside_the_folder_but_never_links_leading_out()
    {
        File.WriteAllText(_folder.File("real.txt"), "inside");
        File.WriteAllText(_outside.File("secret.txt"), "outside");
        File.CreateSymbolicLink(_folder.File("inner-link.txt"), _folder.File("real.txt"));
        File.CreateSymbolicLink(_folder.File("escape.txt"), _outside.File("secret.txt"));
        var catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path));

        Assert.Equal(["inner-link.txt", "real.txt"], List(catalog).Files.Select(f => f.Name));
        catalog.Tell(new LookupFile("escape.txt"));
        Assert.Equal(ErrorCodes.NoSuchFile, ExpectMsg<ErrorFrame>().Code);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/file.txt")]
    [InlineData("sub\\file.txt")]
    [InlineData("")]
    [InlineData("C:file.txt")]
    public void Catalog_must_refuse_names_that_are_not_plain_file_names(string name)
    {
        File.WriteAllText(_folder.File("file.txt"), "x");
        var catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path));
        catalog.Tell(new LookupFile(name));
        Assert.Equal(ErrorCodes.NoSuchFile, ExpectMsg<ErrorFrame>().Code);
    }

    [Fact]
    public void Catalog_must_keep_a_hash_until_size_or_modification_time_change()
    {
        var path = _folder.File("data.bin");
        File.WriteAllText(path, "version-1");
        var stamp = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, stamp);
        var catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path));
        var first = List(catalog).Files.Single().Sha256;

        // Same size and time: the cached hash is kept (the file is not read again).
        File.WriteAllText(path, "version-2");
        File.SetLastWriteTimeUtc(path, stamp);
        Assert.Equal(first, List(catalog).Files.Single().Sha256);

        // A new modification time: hashed again.
        File.SetLastWriteTimeUtc(path, stamp.AddMinutes(1));
        Assert.Equal(Sha(path), List(catalog).Files.Single().Sha256);
        Assert.NotEqual(first, Sha(path));

        // A new size: hashed again.
        File.WriteAllText(path, "version-three");
        File.SetLastWriteTimeUtc(path, stamp.AddMinutes(1));
        Assert.Equal(Sha(path), List(catalog).Files.Single().Sha256);
    }

    [Fact]
    public void Catalog_must_notice_files_added_and_removed_while_running()
    {
        var catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path));
        Assert.Empty(List(catalog).Files);
        File.WriteAllText(_folder.File("new.txt"), "hello");
        Assert.Equal(["new.txt"], List(catalog).Files.Select(f => f.Name));
        catalog.Tell(new LookupFile("new.txt"));
        Assert.Equal(5, ExpectMsg<CatalogEntry>().Size);
        File.Delete(_folder.File("new.txt"));
        Assert.Empty(List(catalog).Files);
        catalog.Tell(new LookupFile("new.txt"));
        Assert.Equal(ErrorCodes.NoSuchFile, ExpectMsg<ErrorFrame>().Code);
    }

    void IDisposable.Dispose()
    {
        _folder.Dispose();
        _outside.Dispose();
        base.Dispose();
    }
}
