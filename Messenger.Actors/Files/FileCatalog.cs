using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Messenger.Protocol;

namespace Messenger.Files;

/// <summary>A file the server offers: where it is and what it was when hashed.</summary>
public sealed record CatalogEntry(string Name, string FullPath, long Size, DateTime LastWriteUtc, string Sha256);

/// <summary>
/// Ask for one page of the listing, sorted by name: entries from <paramref name="Offset"/>, at most
/// <paramref name="Limit"/> of them (the configured page size when null, never more than the maximum).
/// The reply is a <see cref="FilesFrame"/>.
/// </summary>
public sealed record ListFiles(int Offset = 0, int? Limit = null) { public static readonly ListFiles Instance = new(); }
/// <summary>Ask for one file by name; the reply is a <see cref="CatalogEntry"/> or an <see cref="ErrorFrame"/> (no_such_file).</summary>
public sealed record LookupFile(string Name);

/// <summary>
/// Owns the download folder and keeps what it offers in memory, so <see cref="ListFiles"/> and
/// <see cref="LookupFile"/> are answered from a dictionary, never by looking at the disk. A folder
/// watcher names what changed; the named files are looked at (off the actor's thread, a burst of
/// events gathered into one look), and the whole folder is listed again now and then in case the
/// watcher missed something. A new or changed file is hashed (SHA-256) in the background, a few at
/// a time and each within a time budget, and offered only once its hash is known; one that changed
/// while hashed is hashed again. Offered are regular files directly inside the folder, not
/// dotfiles, and links only when they resolve to a regular file inside the folder; FIFOs, sockets
/// and devices are never opened (<see cref="RegularFiles"/>).
/// </summary>
public sealed class FileCatalog : ReceiveActor, IWithTimers
{
    /// <summary>What one look at a name found: a regular file inside the folder, through a link or not.</summary>
    private sealed record Probe(string FullPath, long Size, DateTime LastWriteUtc, bool IsLink);
    /// <summary>The result of a look: names mapped to what is there (null: nothing offerable); for the whole folder, absent names are gone.</summary>
    private sealed record Probed(IReadOnlyDictionary<string, Probe?> Found, bool WholeFolder, string? Problem = null);
    /// <summary>From the watcher: <paramref name="Name"/> changed; null when anything may have (the watcher lost events).</summary>
    private sealed record FolderChanged(string? Name);
    private sealed record Rescan { public static readonly Rescan Instance = new(); }
    private sealed record LookAtChanges { public static readonly LookAtChanges Instance = new(); }
    private sealed record Hashed(string Name, Probe Probe, CancellationTokenSource Budget, string? Sha256, string? Problem);

    private const int HashBufferBytes = 1 << 20;
    /// <summary>Pages kept encoded between changes; past this the cache starts over.</summary>
    private const int CachedPages = 64;

    private readonly string _folder;
    private readonly CatalogSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly Dictionary<string, Probe> _known = new(StringComparer.Ordinal);
    /// <summary>What is offered, kept sorted: a changed listing is copied out in order, never sorted again per request.</summary>
    private readonly SortedDictionary<string, CatalogEntry> _offered = new(StringComparer.Ordinal);
    private readonly Queue<string> _hashQueue = new();
    private readonly Dictionary<string, CancellationTokenSource> _hashing = new(StringComparer.Ordinal);
    /// <summary>Known files that could not be hashed (over budget, unreadable); tried again when they change.</summary>
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    private int _hashTasks;
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);
    private bool _rescanWanted;
    private bool _looking;

    private FileEntry[]? _sorted;
    private readonly Dictionary<(int Offset, int Limit), FilesFrame> _pages = new();
    private FileSystemWatcher? _watcher;

    public FileCatalog(string folder, CatalogSettings settings)
    {
        _folder = Path.GetFullPath(folder);
        _settings = settings;
        Receive<ListFiles>(m => Sender.Tell(Page(m)));
        Receive<LookupFile>(m => Sender.Tell(Lookup(m.Name)));
        Receive<FolderChanged>(OnFolderChanged);
        Receive<LookAtChanges>(_ => StartLooking());
        Receive<Rescan>(_ => { _rescanWanted = true; StartLooking(); });
        Receive<Probed>(OnProbed);
        Receive<Hashed>(OnHashed);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string folder, CatalogSettings settings) =>
        Akka.Actor.Props.Create(() => new FileCatalog(folder, settings));

    protected override void PreStart()
    {
        if (!Directory.Exists(_folder))
        {
            // Said once: a mistyped --files would otherwise look like a server with nothing to offer.
            Directory.CreateDirectory(_folder);
            _log.Warning("the files folder {0} did not exist: created it empty", Path.GetFullPath(_folder));
        }
        if (_settings.Watch) StartWatcher();
        Timers.StartPeriodicTimer(nameof(Rescan), Rescan.Instance, _settings.RescanInterval);
        _rescanWanted = true;
        StartLooking();
    }

    protected override void PostStop()
    {
        _watcher?.Dispose();
        foreach (var budget in _hashing.Values) budget.Cancel();
    }

    // ------------------------------------------------------------------ answers

    private FilesFrame Page(ListFiles request)
    {
        _sorted ??= _offered.Values.Select(e => new FileEntry(e.Name, e.Size, e.Sha256)).ToArray();
        int offset = Math.Clamp(request.Offset, 0, _sorted.Length);
        int limit = Math.Clamp(request.Limit ?? _settings.PageSize, 1, _settings.MaxPageSize);
        if (_pages.TryGetValue((offset, limit), out var cached)) return cached;
        if (_pages.Count >= CachedPages) _pages.Clear();
        int count = Math.Min(limit, _sorted.Length - offset);
        int? next = offset + count < _sorted.Length ? offset + count : null;
        // One frame object per page: its JSON line is encoded once, however many clients ask.
        return _pages[(offset, limit)] = new FilesFrame(_sorted[offset..(offset + count)], offset, _sorted.Length, next);
    }

    private object Lookup(string name)
    {
        if (_offered.TryGetValue(name, out var entry)) return entry;
        return new ErrorFrame(ErrorCodes.NoSuchFile, _known.ContainsKey(name) && !_failed.Contains(name)
            ? $"\"{Shorten(name)}\" is not offered yet: its SHA-256 is still being computed"
            : $"no file named \"{Shorten(name)}\" is offered");
    }

    private static string Shorten(string name) => name.Length <= 80 ? name : name[..80] + "…";

    private void ListingChanged()
    {
        _sorted = null;
        _pages.Clear();
    }

    // ------------------------------------------------------------------ noticing changes

    private void StartWatcher()
    {
        var self = Self;
        try
        {
            _watcher = new FileSystemWatcher(_folder)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size
                               | NotifyFilters.LastWrite | NotifyFilters.Attributes,
            };
            _watcher.Created += (_, e) => self.Tell(new FolderChanged(e.Name));
            _watcher.Changed += (_, e) => self.Tell(new FolderChanged(e.Name));
            _watcher.Deleted += (_, e) => self.Tell(new FolderChanged(e.Name));
            _watcher.Renamed += (_, e) =>
            {
                self.Tell(new FolderChanged(e.OldName));
                self.Tell(new FolderChanged(e.Name));
            };
            _watcher.Error += (_, _) => self.Tell(new FolderChanged(null));
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            _log.Warning("cannot watch {0} ({1}); changes show after the next rescan (every {2})", _folder, e.Message, _settings.RescanInterval);
            _watcher?.Dispose();
            _watcher = null;
        }
    }

    private void OnFolderChanged(FolderChanged m)
    {
        if (m.Name is null)
        {
            _log.Warning("the watcher on {0} lost events; listing the folder again", _folder);
            _rescanWanted = true;
        }
        else if (FileNames.IsOffered(m.Name)) _changed.Add(m.Name);
        else return;
        if (!Timers.IsTimerActive(nameof(LookAtChanges)))
            Timers.StartSingleTimer(nameof(LookAtChanges), LookAtChanges.Instance, _settings.ChangeDelay);
    }

    /// <summary>Starts one look at the disk (the whole folder or the changed names) unless one is running.</summary>
    private void StartLooking()
    {
        if (_looking || (!_rescanWanted && _changed.Count == 0)) return;
        _looking = true;
        var folder = _folder;
        var self = Self;
        if (_rescanWanted)
        {
            _rescanWanted = false;
            _changed.Clear();
            Task.Run(() => ProbeFolder(folder)).PipeTo(self, failure: LookFailed);
        }
        else
        {
            // A link's target may be any of the changed names: look at every link again too.
            var names = _changed.Concat(_known.Where(k => k.Value.IsLink).Select(k => k.Key)).Distinct().ToArray();
            _changed.Clear();
            Task.Run(() => ProbeNames(folder, names)).PipeTo(self, failure: LookFailed);
        }
    }

    /// <summary>A look that failed (the folder is gone or unreadable) changes nothing; the periodic rescan tries again.</summary>
    private static Probed LookFailed(Exception e) => new(new Dictionary<string, Probe?>(), WholeFolder: false, e.Message);

    private void OnProbed(Probed m)
    {
        _looking = false;
        if (m.Problem is not null) _log.Warning("cannot look at {0}: {1}", _folder, m.Problem);
        if (m.WholeFolder)
            foreach (var gone in _known.Keys.Where(name => !m.Found.ContainsKey(name)).ToList()) Forget(gone);
        foreach (var (name, probe) in m.Found)
        {
            if (probe is null) Forget(name);
            else Update(name, probe);
        }
        StartLooking(); // changes that came in meanwhile
        StartHashing();
    }

    private void Update(string name, Probe probe)
    {
        if (_known.TryGetValue(name, out var old) && old == probe) return;
        Forget(name);
        _known[name] = probe;
        _hashQueue.Enqueue(name);
    }

    private void Forget(string name)
    {
        _known.Remove(name);
        _failed.Remove(name);
        if (_offered.Remove(name)) ListingChanged();
        if (_hashing.Remove(name, out var budget)) budget.Cancel(); // its result will be ignored
    }

    private static Probed ProbeFolder(string folder)
    {
        var found = new Dictionary<string, Probe?>(StringComparer.Ordinal);
        foreach (var info in new DirectoryInfo(folder).EnumerateFiles())
            if (ProbeOne(folder, info.Name) is { } probe) found[info.Name] = probe;
        return new Probed(found, WholeFolder: true);
    }

    private static Probed ProbeNames(string folder, IEnumerable<string> names) =>
        new(names.ToDictionary(n => n, n => ProbeOne(folder, n), StringComparer.Ordinal), WholeFolder: false);

    /// <summary>The regular file <paramref name="name"/> stands for inside the folder, or null.</summary>
    private static Probe? ProbeOne(string folder, string name)
    {
        if (!FileNames.IsOffered(name)) return null;
        try
        {
            var info = new FileInfo(Path.Combine(folder, name));
            if (!info.Exists) return null;
            bool isLink = info.LinkTarget is not null;
            if (isLink)
            {
                if (info.ResolveLinkTarget(returnFinalTarget: true) is not FileInfo target || !target.Exists) return null;
                var folderPrefix = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
                if (!Path.GetFullPath(target.FullName).StartsWith(folderPrefix, StringComparison.Ordinal)) return null;
                info = target;
            }
            if (!RegularFiles.IsRegular(info.FullName)) return null;
            return new Probe(info.FullName, info.Length, info.LastWriteTimeUtc, isLink);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // vanished or unreadable meanwhile: not offered
        }
    }

    // ------------------------------------------------------------------ hashing

    private void StartHashing()
    {
        while (_hashTasks < _settings.HashConcurrency && _hashQueue.TryDequeue(out var name))
        {
            if (!_known.TryGetValue(name, out var probe) || _offered.ContainsKey(name) || _hashing.ContainsKey(name)) continue;
            var budget = new CancellationTokenSource(_settings.HashTimeBudget);
            _hashing[name] = budget;
            _hashTasks++;
            var limit = _settings.HashTimeBudget;
            Task.Run(() => HashAsync(name, probe, budget, limit))
                .PipeTo(Self, failure: e => new Hashed(name, probe, budget, null, e.Message));
        }
    }

    private void OnHashed(Hashed h)
    {
        _hashTasks--;
        bool current = _hashing.TryGetValue(h.Name, out var budget) && budget == h.Budget;
        h.Budget.Dispose();
        if (current)
        {
            _hashing.Remove(h.Name);
            if (h.Sha256 is not null)
            {
                _offered[h.Name] = new CatalogEntry(h.Name, h.Probe.FullPath, h.Probe.Size, h.Probe.LastWriteUtc, h.Sha256);
                ListingChanged();
            }
            else if (h.Problem is null)
            {
                _changed.Add(h.Name); // changed while hashed: look again, and hash the new version
                StartLooking();
            }
            else
            {
                _failed.Add(h.Name);
                _log.Warning("{0} is not offered: {1}", h.Name, h.Problem);
            }
        }
        StartHashing();
    }

    private static async Task<Hashed> HashAsync(string name, Probe probe, CancellationTokenSource budget, TimeSpan limit)
    {
        try
        {
            string sha;
            await using (var stream = RegularFiles.OpenRead(probe.FullPath, HashBufferBytes))
                sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, budget.Token));
            var after = new FileInfo(probe.FullPath);
            bool unchanged = after.Exists && after.Length == probe.Size && after.LastWriteTimeUtc == probe.LastWriteUtc;
            return new Hashed(name, probe, budget, unchanged ? sha : null, null);
        }
        catch (OperationCanceledException)
        {
            return new Hashed(name, probe, budget, null,
                $"hashing took longer than {limit} (messenger.files.hash-time-budget); it is tried again when the file changes");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Hashed(name, probe, budget, null, e.Message);
        }
    }
}
