namespace Messenger.Persistence;

/// <summary>
/// Everything written to the journal or the snapshot store. Rows outlive code: each type has a
/// fixed, versioned manifest in <see cref="EventSerializer"/>, and a changed shape gets a new
/// type and manifest (the old one stays readable).
/// </summary>
public interface IPersistedEvent;

/// <summary>A room message; its sequence number in the room's journal is the message id.</summary>
public sealed record RoomMessagePosted(string From, string Text, long Ts) : IPersistedEvent;

/// <summary>Message <paramref name="Id"/> was posted at <paramref name="Ts"/>: what age-based retention looks up.</summary>
public sealed record RoomCheckpoint(long Id, long Ts);

/// <summary>
/// A room's state at a snapshot: its newest messages (the in-memory tail), the highest id deleted
/// by retention, and checkpoints for deleting by age.
/// </summary>
public sealed record RoomSnapshot(IReadOnlyList<Protocol.HistoryEntry> Tail, long DeletedUpTo,
    IReadOnlyList<RoomCheckpoint> Checkpoints) : IPersistedEvent;

/// <summary>The name was registered; <paramref name="PasswordHash"/> is a <see cref="Accounts.PasswordHasher"/> string.</summary>
public sealed record AccountRegistered(string Name, string PasswordHash) : IPersistedEvent;

public sealed record PasswordChanged(string PasswordHash) : IPersistedEvent;

/// <summary>A private message stored for the (offline, registered) account owner.</summary>
public sealed record OfflineMessageQueued(string From, string Text, long Ts) : IPersistedEvent;

/// <summary>
/// The name claims' list of registered names, one event per bucket of names (see
/// <see cref="Chat.NameClaims"/>): <paramref name="Names"/> (lower case) had accounts when the
/// bucket's list was built.
/// </summary>
public sealed record RegisteredNamesIndexed(IReadOnlyList<string> Names) : IPersistedEvent;

/// <summary>A name (lower case) of the bucket is being registered: it joins the bucket's list of registered names.</summary>
public sealed record NameRegistered(string Name) : IPersistedEvent;

/// <summary>
/// Every offline message queued so far was handed to the owner at login. Written by earlier
/// versions, before the connection had them; still read. Now <see cref="OfflineMessagesHandedOver"/>.
/// </summary>
public sealed record OfflineMessagesDelivered : IPersistedEvent { public static readonly OfflineMessagesDelivered Instance = new(); }

/// <summary>
/// The offline messages queued at journal positions up to <paramref name="Through"/> are in the
/// owner's connection: they are no longer kept.
/// </summary>
public sealed record OfflineMessagesHandedOver(long Through) : IPersistedEvent;
