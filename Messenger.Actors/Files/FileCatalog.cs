using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Messenger.Protocol;

namespace Messenger.Files;

/// <summary>A file the server offers: where it is and what it was when hashed.</summary>
public sealed record CatalogEntry(string Name, string FullPath, long Size, DateTime LastWriteUtc, string Sha256);

/// <summary>Ask for the listing; the reply is a <see cref="FilesFrame"/> sorted by name.</summary>
public sealed record ListFiles { public static readonly ListFiles Instance = new(); }
/// <summary>Ask for one file by name; the reply is a <see cref="CatalogEntry"/> or an <see cref="ErrorFrame"/> (no_such_file).</summary>
public sealed record LookupFile(string Name);

/// <summary>
/// Owns the download folder. On every request it looks at the folder again (a directory
/// listing is cheap), so files added or removed while the server runs are noticed; each file's
/// SHA-256 is computed once, off the actor's thread, and kept until its size or modification
/// time changes. Only regular files directly inside the folder are offered; a link is offered
/// only when it resolves to a regular file inside the folder.
/// </summary>
public sealed class FileCatalog : ReceiveActor
{
    private sealed record Hashed(string Name, long Size, DateTime LastWriteUtc, string Sha256);
    private sealed record HashFailed(string Name, string Error);
    private sealed record Found(string Name, string FullPath, long Size, DateTime LastWriteUtc);

    private readonly string _folder;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, CatalogEntry> _hashed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _hashing = new(StringComparer.Ordinal);
    private readonly List<(object Request, IActorRef ReplyTo)> _waiting = new();
    private List<Found> _current = new();

    public FileCatalog(string folder)
    {
        _folder = Path.GetFullPath(folder);
        Receive<ListFiles>(m => Answer(m, Sender));
        Receive<LookupFile>(m => Answer(m, Sender));
        Receive<Hashed>(h =>
        {
            _hashing.Remove(h.Name);
            var found = _current.FirstOrDefault(f => f.Name == h.Name);
            if (found is not null && found.Size == h.Size && found.LastWriteUtc == h.LastWriteUtc)
                _hashed[h.Name] = new CatalogEntry(h.Name, found.FullPath, h.Size, h.LastWriteUtc, h.Sha256);
            AnswerWaiting();
        });
        Receive<HashFailed>(f =>
        {
            _hashing.Remove(f.Name);
            _log.Warning("cannot hash {0}: {1}", f.Name, f.Error);
            AnswerWaiting();
        });
    }

    public static Props Props(string folder) => Akka.Actor.Props.Create(() => new FileCatalog(folder));

    protected override void PreStart()
    {
        Directory.CreateDirectory(_folder);
        Rescan(); // warm the hash cache so the first listing is quick
    }

    private void Answer(object request, IActorRef replyTo)
    {
        Rescan();
        if (_hashing.Count == 0) Reply(request, replyTo);
        else _waiting.Add((request, replyTo));
    }

    private void AnswerWaiting()
    {
        if (_hashing.Count > 0 || _waiting.Count == 0) return;
        Rescan();
        if (_hashing.Count > 0) return; // something changed again meanwhile
        foreach (var (request, replyTo) in _waiting) Reply(request, replyTo);
        _waiting.Clear();
    }

    private void Reply(object request, IActorRef replyTo)
    {
        switch (request)
        {
            case ListFiles:
                var entries = _current
                    .Select(f => _hashed.GetValueOrDefault(f.Name))
                    .OfType<CatalogEntry>()
                    .OrderBy(e => e.Name, StringComparer.Ordinal)
                    .Select(e => new FileEntry(e.Name, e.Size, e.Sha256))
                    .ToArray();
                replyTo.Tell(new FilesFrame(entries));
                break;
            case LookupFile lookup:
                if (FileNames.IsPlain(lookup.Name) && _hashed.TryGetValue(lookup.Name, out var entry)
                    && _current.Any(f => f.Name == lookup.Name))
                    replyTo.Tell(entry);
                else
                    replyTo.Tell(new ErrorFrame(ErrorCodes.NoSuchFile, $"no file named \"{Shorten(lookup.Name)}\" is offered"));
                break;
        }
    }

    private static string Shorten(string name) => name.Length <= 80 ? name : name[..80] + "…";

    /// <summary>Lists the folder, drops stale hashes, and starts hashing what is new or changed.</summary>
    private void Rescan()
    {
        var found = new List<Found>();
        try
        {
            foreach (var info in new DirectoryInfo(_folder).EnumerateFiles())
            {
                if (!FileNames.IsPlain(info.Name)) continue;
                var target = ResolveInside(info);
                if (target is null) continue;
                found.Add(new Found(info.Name, target.FullName, target.Length, target.LastWriteTimeUtc));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("cannot list {0}: {1}", _folder, e.Message);
        }
        _current = found;

        foreach (var stale in _hashed.Values.Where(e => !found.Any(f => f.Name == e.Name && f.Size == e.Size && f.LastWriteUtc == e.LastWriteUtc)).ToList())
            _hashed.Remove(stale.Name);

        foreach (var f in found)
        {
            if (_hashed.ContainsKey(f.Name) || !_hashing.Add(f.Name)) continue;
            var self = Self;
            Task.Run(() => HashFile(f)).PipeTo(self, failure: e => new HashFailed(f.Name, e.Message));
        }
    }

    private static Hashed HashFile(Found f)
    {
        using var stream = new FileStream(f.FullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20);
        var hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        return new Hashed(f.Name, f.Size, f.LastWriteUtc, hash);
    }

    /// <summary>The regular file behind <paramref name="info"/>, or null when it is not one or leads outside the folder.</summary>
    private FileInfo? ResolveInside(FileInfo info)
    {
        try
        {
            if (info.LinkTarget is null) return info.Attributes.HasFlag(FileAttributes.Directory) ? null : info;
            if (info.ResolveLinkTarget(returnFinalTarget: true) is not FileInfo target || !target.Exists) return null;
            var folderPrefix = _folder.EndsWith(Path.DirectorySeparatorChar) ? _folder : _folder + Path.DirectorySeparatorChar;
            return Path.GetFullPath(target.FullName).StartsWith(folderPrefix, StringComparison.Ordinal) ? target : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
