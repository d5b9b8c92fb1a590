using System.Security.Cryptography;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Messenger.Files;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.Files;

public sealed class FileCatalogSpec : TestKit, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly TempFolder _folder = new();
    private readonly TempFolder _outside = new();

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>The server's catalog settings (hocon/server.hocon) with <paramref name="hocon"/> (keys of messenger.files) over them.</summary>
    private static CatalogSettings Settings(string hocon = "") =>
        CatalogSettings.FromConfig(ServerConfig.Load(overrides: ConfigurationFactory.ParseString($"messenger.files {{\n{hocon}\n}}"))
            .GetConfig("messenger.files"));

    /// <summary>A catalog noticing changes only through its folder watcher (the rescan is an hour away).</summary>
    private IActorRef Start(string hocon = "rescan-interval = 1h") => Sys.ActorOf(FileCatalog.Props(_folder.Path, Settings(hocon)));

    private FilesFrame List(IActorRef catalog, ListFiles? request = null)
    {
        catalog.Tell(request ?? ListFiles.Instance);
        return ExpectMsg<FilesFrame>(Patience);
    }

    private string[] Names(IActorRef catalog) => List(catalog).Files.Select(f => f.Name).ToArray();

    private void AwaitListing(IActorRef catalog, params string[] names) =>
        AwaitAssert(() => Assert.Equal(names, Names(catalog)), Patience, TimeSpan.FromMilliseconds(20));

    private ErrorFrame Refused(IActorRef catalog, string name)
    {
        catalog.Tell(new LookupFile(name));
        var error = ExpectMsg<ErrorFrame>(Patience);
        Assert.Equal(ErrorCodes.NoSuchFile, error.Code);
        return error;
    }

    [Fact]
    public void Catalog_must_say_when_it_creates_a_missing_folder_and_only_then()
    {
        var missing = _folder.File("not-there");
        EventFilter.Warning(contains: "did not exist: created it empty").ExpectOne(Patience, () =>
            Sys.ActorOf(FileCatalog.Props(missing, Settings("rescan-interval = 1h"))));
        Assert.True(Directory.Exists(missing));
        EventFilter.Warning(contains: "did not exist").Expect(0, TimeSpan.FromMilliseconds(500), () => Start());
    }

    [Fact]
    public void Catalog_must_list_regular_files_sorted_with_sizes_and_hashes()
    {
        File.WriteAllText(_folder.File("b.txt"), "bee");
        File.WriteAllText(_folder.File("a.txt"), "a");
        Directory.CreateDirectory(_folder.File("subdir"));
        File.WriteAllText(Path.Combine(_folder.File("subdir"), "hidden.txt"), "not offered");
        var catalog = Start();

        AwaitListing(catalog, "a.txt", "b.txt");
        var files = List(catalog).Files;
        Assert.Equal(3, files[1].Size);
        Assert.Equal(Sha(_folder.File("b.txt")), files[1].Sha256);
        catalog.Tell(new LookupFile("b.txt"));
        Assert.Equal(_folder.File("b.txt"), ExpectMsg<CatalogEntry>().FullPath);
    }

    [Fact]
    public void Catalog_must_offer_links_inside_the_folder_but_never_links_leading_out()
    {
        File.WriteAllText(_folder.File("real.txt"), "inside");
        File.WriteAllText(_outside.File("secret.txt"), "outside");
        File.CreateSymbolicLink(_folder.File("inner-link.txt"), _folder.File("real.txt"));
        File.CreateSymbolicLink(_folder.File("escape.txt"), _outside.File("secret.txt"));
        var catalog = Start();

        AwaitListing(catalog, "inner-link.txt", "real.txt");
        Refused(catalog, "escape.txt");

        // The link follows its target's changes.
        File.WriteAllText(_folder.File("real.txt"), "inside, longer now");
        AwaitAssert(() => Assert.All(List(catalog).Files, f => Assert.Equal(18, f.Size)), Patience);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/file.txt")]
    [InlineData("sub\\file.txt")]
    [InlineData("")]
    [InlineData("C:file.txt")]
    [InlineData(".hidden")]
    public void Catalog_must_refuse_names_that_are_not_offered_plain_file_names(string name)
    {
        File.WriteAllText(_folder.File("file.txt"), "x");
        File.WriteAllText(_folder.File(".hidden"), "a dotfile");
        var catalog = Start();
        AwaitListing(catalog, "file.txt");
        Refused(catalog, name);
    }

    [Fact]
    public void Catalog_must_keep_a_hash_until_size_or_modification_time_change()
    {
        var path = _folder.File("data.bin");
        File.WriteAllText(path, "version-1");
        var stamp = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, stamp);
        var catalog = Start();
        AwaitListing(catalog, "data.bin");
        var first = List(catalog).Files.Single().Sha256;

        // Same size and time: the cached hash is kept (the file is not read again). A file made
        // afterwards shows that the watcher's report of the rewrite has been dealt with.
        File.WriteAllText(path, "version-2");
        File.SetLastWriteTimeUtc(path, stamp);
        File.WriteAllText(_folder.File("marker.txt"), "m");
        AwaitListing(catalog, "data.bin", "marker.txt");
        Assert.Equal(first, List(catalog).Files[0].Sha256);

        // A new modification time: hashed again.
        File.SetLastWriteTimeUtc(path, stamp.AddMinutes(1));
        AwaitAssert(() => Assert.Equal(Sha(path), List(catalog).Files[0].Sha256), Patience);
        Assert.NotEqual(first, Sha(path));

        // A new size: hashed again.
        File.WriteAllText(path, "version-three");
        File.SetLastWriteTimeUtc(path, stamp.AddMinutes(1));
        AwaitAssert(() => Assert.Equal((13L, Sha(path)), (List(catalog).Files[0].Size, List(catalog).Files[0].Sha256)), Patience);
    }

    [Fact]
    public void Catalog_must_notice_files_added_changed_renamed_and_removed_through_its_watcher()
    {
        var catalog = Start();
        Assert.Empty(List(catalog).Files);
        File.WriteAllText(_folder.File("new.txt"), "hello");
        AwaitListing(catalog, "new.txt");
        catalog.Tell(new LookupFile("new.txt"));
        Assert.Equal(5, ExpectMsg<CatalogEntry>().Size);

        File.AppendAllText(_folder.File("new.txt"), ", world");
        AwaitAssert(() => Assert.Equal(12, List(catalog).Files.Single().Size), Patience);

        File.Move(_folder.File("new.txt"), _folder.File("renamed.txt"));
        AwaitListing(catalog, "renamed.txt");
        Refused(catalog, "new.txt");

        File.Delete(_folder.File("renamed.txt"));
        AwaitListing(catalog);
        Refused(catalog, "renamed.txt");
    }

    [Fact]
    public void Catalog_must_answer_from_memory_without_looking_at_the_folder_per_request()
    {
        // No watcher and no rescan for an hour: only a request that looks at the disk could see the new file.
        File.WriteAllText(_folder.File("before.txt"), "seen by the scan at start");
        var catalog = Start("watch = off\nrescan-interval = 1h");
        AwaitListing(catalog, "before.txt");
        File.WriteAllText(_folder.File("after.txt"), "made after the scan");
        for (int i = 0; i < 20; i++) Assert.Equal(["before.txt"], Names(catalog));
        Refused(catalog, "after.txt");
    }

    [Fact]
    public void Catalog_must_pick_up_changes_by_rescanning_when_it_cannot_watch()
    {
        var catalog = Start("watch = off\nrescan-interval = 200ms");
        File.WriteAllText(_folder.File("a.txt"), "a");
        AwaitListing(catalog, "a.txt");
        File.Delete(_folder.File("a.txt"));
        File.WriteAllText(_folder.File("b.txt"), "b");
        AwaitListing(catalog, "b.txt");
    }

    [Fact]
    public void Catalog_must_never_list_or_open_fifos_sockets_or_dotfiles_and_keep_answering()
    {
        if (!OperatingSystem.IsLinux()) return; // FIFOs and socket files are what Linux folders can hold
        SpecialFiles.MakeFifo(_folder.File("early-fifo"));
        File.CreateSymbolicLink(_folder.File("link-to-fifo"), _folder.File("early-fifo"));
        File.WriteAllText(_folder.File("a.txt"), "a");
        File.WriteAllText(_folder.File(".dotfile"), "hidden");
        var catalog = Start();
        AwaitListing(catalog, "a.txt");

        SpecialFiles.MakeFifo(_folder.File("late-fifo"));
        using var socket = SpecialFiles.MakeSocket(_folder.File("socket"));
        File.WriteAllText(_folder.File("b.txt"), "b"); // made after them: once offered, they were looked at
        AwaitListing(catalog, "a.txt", "b.txt");
        foreach (var name in new[] { "early-fifo", "link-to-fifo", "late-fifo", "socket", ".dotfile" }) Refused(catalog, name);

        // The FIFOs go; the catalog is as alive as before.
        File.Delete(_folder.File("early-fifo"));
        File.Delete(_folder.File("late-fifo"));
        File.WriteAllText(_folder.File("c.txt"), "c");
        AwaitListing(catalog, "a.txt", "b.txt", "c.txt");
    }

    [Fact]
    public void Catalog_must_list_while_a_big_file_is_hashed_and_give_up_on_it_past_the_time_budget()
    {
        // 8 GB of holes: instant to make, seconds to hash, far past a 300 ms budget.
        using (var huge = new FileStream(_folder.File("huge.bin"), FileMode.CreateNew)) huge.SetLength(8L << 30);
        File.WriteAllText(_folder.File("small.txt"), "small");
        IActorRef catalog = null!;
        EventFilter.Warning(start: "huge.bin is not offered").ExpectOne(Patience, () =>
        {
            catalog = Start("rescan-interval = 1h\nhash-time-budget = 300ms");
            AwaitListing(catalog, "small.txt");
        });
        Assert.Equal(["small.txt"], Names(catalog));
        Assert.DoesNotContain("being computed", Refused(catalog, "huge.bin").Message);
    }

    [Fact]
    public void Catalog_must_offer_the_last_content_of_a_file_rewritten_while_it_is_hashed()
    {
        var catalog = Start();
        var path = _folder.CreateRandomFile("moving.bin", 32 << 20, seed: 1);
        for (int seed = 2; seed <= 4; seed++) _folder.CreateRandomFile("moving.bin", (32 << 20) + seed, seed);
        AwaitAssert(() => Assert.Equal(Sha(path), List(catalog).Files.Single().Sha256), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Catalog_must_answer_in_pages_of_the_configured_size_never_above_the_maximum()
    {
        foreach (var name in new[] { "a", "b", "c", "d", "e", "f", "g" }) File.WriteAllText(_folder.File(name), name);
        var catalog = Start("rescan-interval = 1h\npage-size = 3\nmax-page-size = 5");
        AwaitAssert(() => Assert.Equal(7, List(catalog).Total), Patience);

        var first = List(catalog);
        Assert.Equal(["a", "b", "c"], first.Files.Select(f => f.Name));
        Assert.Equal((0, 7, (int?)3), (first.Offset, first.Total, first.Next));
        var rest = List(catalog, new ListFiles(3, 100));
        Assert.Equal(["d", "e", "f", "g"], rest.Files.Select(f => f.Name));
        Assert.Equal((3, 7, (int?)null), (rest.Offset, rest.Total, rest.Next));
        var middle = List(catalog, new ListFiles(1, 5));
        Assert.Equal((5, (int?)6), (middle.Files.Count, middle.Next));
        var past = List(catalog, new ListFiles(50));
        Assert.Equal((0, 7, (int?)null), (past.Files.Count, past.Total, past.Next));
    }

    void IDisposable.Dispose()
    {
        _folder.Dispose();
        _outside.Dispose();
        base.Dispose();
    }
}
