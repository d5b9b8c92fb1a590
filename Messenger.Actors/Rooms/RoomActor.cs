using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Net;
using Messenger.Persistence;
using Messenger.Protocol;

namespace Messenger.Rooms;

// ---- messages (wrapped in ToRoom; Sender is always the member's ConnectionActor) ----

/// <summary>
/// A message for the room <paramref name="Room"/> (a normalized name), told to the room region
/// (<see cref="Messenger.Hosting.ChatServices.Rooms"/>); the sender is the member speaking.
/// </summary>
public sealed record ToRoom(string Room, object Command) : IEntityEnvelope, ICrossNodeMessage
{
    string IEntityEnvelope.EntityId => Room;
}

/// <summary>
/// Join the room as <paramref name="User"/>. An explicit join is confirmed with the member list and
/// recent history. <paramref name="AtLogin"/>: the lobby at login, sent by the
/// <see cref="Messenger.Chat.PresenceActor"/> after the welcome; nothing is answered.
/// </summary>
public sealed record JoinRoom(string User, bool AtLogin = false) : ICrossNodeMessage;
/// <summary>
/// Be a member again, silently: the room's entity stopped (its shard moved: a node left or died)
/// while <paramref name="User"/> was in it, and this is its next incarnation. Answered with
/// <see cref="Rejoined"/>, so the member can watch the new one.
/// </summary>
public sealed record RejoinRoom(string User) : ICrossNodeMessage;
/// <summary>The answer to <see cref="RejoinRoom"/>; its sender is the room.</summary>
public sealed record Rejoined(string Room) : ICrossNodeMessage;
/// <summary>
/// Leave the room; <paramref name="Reason"/> is <see cref="LeaveReasons.Part"/> for <c>part</c>, else why
/// the user left the chat. The member first gets every message accepted before, then
/// <paramref name="Confirmation"/> if given.
/// </summary>
public sealed record PartRoom(string User, string Reason, object? Confirmation = null) : ICrossNodeMessage;
/// <summary>Say <paramref name="Text"/> in the room. Only members say: a sender that is not one was a member of the room's last incarnation and is readmitted.</summary>
public sealed record PostToRoom(string User, string Text) : ICrossNodeMessage;
/// <summary>A page of history (members only); the reply is one <see cref="HistoryFrame"/>.</summary>
public sealed record GetHistory(long? Before, int Limit) : ICrossNodeMessage;
/// <summary>Starts the room if needed; answered with <see cref="RoomReady"/> once it has read its journal.</summary>
public sealed record AwaitRoomReady : ICrossNodeMessage { public static readonly AwaitRoomReady Instance = new(); }
/// <summary>The room has recovered; <paramref name="LastId"/> is its newest message id.</summary>
public sealed record RoomReady(string Room, long LastId) : ICrossNodeMessage;
/// <summary>The room's cue to tell its members the messages stored since the last one (<see cref="RoomActor"/>).</summary>
internal sealed record TellStored { public static readonly TellStored Instance = new(); }

/// <summary>
/// One room, persistent: its events are its messages and each message's sequence number is its
/// <c>id</c>. It keeps its members' <see cref="IActorRef"/>s (death-watched) and sends each of them
/// every message itself, one immutable frame encoded once: a member connected to this node gets it
/// put straight into its connection's <see cref="OutboundQueue"/> (looked up in
/// <see cref="Outboxes"/> when it joins), in this actor's turn, and the room's
/// <see cref="OutboundQueue.FlushLane"/> writes all of them in a task per core, so a fan-out costs
/// no actor turn and no task per member; a member on another node is told it. Every frame for one member goes the same way
/// (<see cref="Recipient"/>), and a message that must follow frames (the cue that an answer was
/// queued, <see cref="AnswerWritten"/>; a <see cref="PartRoom"/> confirmation) is told only after
/// they are queued, so each member gets the room's frames in order. Members' <c>joined</c>/<c>left</c> are
/// announced here, except in the lobby, whose presence news is the
/// <see cref="Messenger.Chat.PresenceActor"/>'s (a burst of logins must not queue before lobby chat). A message is told to anyone (its sender
/// included, which is the sender's confirmation) only once it is in the journal, so nothing echoed
/// is lost by a crash. Messages are persisted with <c>PersistAsync</c>: the room keeps accepting
/// while writes are in flight, the journal batches them, and handlers run in order. The messages
/// of one journal batch are told to each member together, as one <see cref="FrameBatch"/>: the
/// first stored message queues a <see cref="TellStored"/> behind the journal's other answers, and
/// anything else the room tells a member first tells it what was stored before, so order holds.
/// Recent messages are held in memory (<see cref="RoomTail"/>); older history pages are read from
/// the journal with Akka.Persistence.Query as an Akka.Streams source, off this actor's thread.
/// </summary>
public sealed class RoomActor : ReceivePersistentActor
{
    private readonly string _name;
    private readonly RoomSettings _settings;
    private readonly IMaterializer _materializer;
    private readonly Func<long> _clock;
    private readonly IActorRef _directory;
    private readonly RoomQuota _quota;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Outboxes _outboxes = Outboxes.Get(Context.System);
    private readonly OutboundQueue.FlushLane _lane = new();
    private readonly Dictionary<IActorRef, Member> _members = new();
    private readonly List<RoomCheckpoint> _checkpoints = new();
    private readonly List<MessageFrame> _stored = new(); // stored, not yet told to the members
    private readonly Queue<IActorRef> _writing = new(); // the senders of the messages being written, in order
    private RoomTail _tail;
    private long _deletedUpTo;
    private ICurrentEventsByPersistenceIdQuery? _readJournal;

    public RoomActor(string name, RoomSettings settings, IMaterializer materializer, Func<long> unixMillisClock,
        IActorRef directory, RoomQuota quota)
    {
        _name = name;
        _directory = directory;
        _quota = quota;
        _settings = settings;
        _materializer = materializer;
        _clock = unixMillisClock;
        _tail = new RoomTail(settings.TailSize);

        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (RoomSnapshot)offer.Snapshot;
            _tail = new RoomTail(settings.TailSize, snapshot.Tail);
            _deletedUpTo = snapshot.DeletedUpTo;
            _checkpoints.AddRange(snapshot.Checkpoints);
        });
        Recover<RoomMessagePosted>(e => _tail.Add(new HistoryEntry(LastSequenceNr, e.From, e.Text, e.Ts)));
        Recover<RecoveryCompleted>(_ =>
        {
            ApplyRetention();
            UpdateIdleTimer();
        });

        Command<JoinRoom>(Join);
        Command<RejoinRoom>(Rejoin);
        Command<PartRoom>(Part);
        Command<PostToRoom>(Post);
        Command<GetHistory>(History);
        Command<TellStored>(_ => TellStoredMessages());
        Command<AwaitRoomReady>(_ => Sender.Tell(new RoomReady(_name, _tail.LastId)));
        // A member that said why it leaves (a part on its way through the deferral below) goes with that reason.
        Command<Terminated>(t => RemoveMember(t.ActorRef,
            _members.TryGetValue(t.ActorRef, out var gone) && gone.Leaving is { } reason ? reason : LeaveReasons.Disconnected));
        Command<ReceiveTimeout>(_ =>
        {
            if (_members.Count == 0) Context.Parent.Tell(new Passivate(StopEntity.Instance));
        });
        // Passivation or handoff: stop once the messages being written are written (and echoed),
        // so the room's next incarnation, maybe on another node, recovers every one of them.
        Command<StopEntity>(stop => DeferAsync(stop, _ => Context.Stop(Self)));
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
            ApplyRetention();
        });
        Command<SaveSnapshotFailure>(f => _log.Warning("room {0}: snapshot failed: {1}", _name, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning("room {0}: deleting old snapshots failed: {1}", _name, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("room {0}: retention delete failed: {1}", _name, f.Cause.Message));
    }

    /// <param name="directory">This node's <see cref="RoomDirectory"/>, told the member count after each change.</param>
    /// <param name="quota">The rooms with members this node may host.</param>
    public static Props Props(string name, RoomSettings settings, IMaterializer materializer, Func<long> unixMillisClock,
        IActorRef directory, RoomQuota quota) =>
        Akka.Actor.Props.Create(() => new RoomActor(name, settings, materializer, unixMillisClock, directory, quota));

    public override string PersistenceId => "room-" + _name;

    /// <summary>False for the lobby: its joined/left come from the presence actor.</summary>
    private bool AnnouncesPresence => _name != RoomNames.Lobby;

    /// <summary>A member: its name, and how its frames reach it.</summary>
    /// <param name="Leaving">Why it is leaving, once its <see cref="PartRoom"/> came and waits for the messages before it.</param>
    private readonly record struct Member(string User, Recipient To, string? Leaving = null);

    public static ErrorFrame NotMember(string room) =>
        new(ErrorCodes.NotMember, $"you are not in \"{room}\"; join it first: {{\"type\":\"join\",\"room\":\"{room}\"}}");

    private void Join(JoinRoom join)
    {
        TellStoredMessages(); // they were stored before the joiner came in
        var joiner = Sender;
        if (!_members.TryGetValue(joiner, out var member))
        {
            var recipient = _outboxes.RecipientOf(joiner);
            if (_members.Count == 0 && !_quota.TryOccupy())
            {
                Answer(recipient, new ErrorFrame(ErrorCodes.TooManyRooms, $"this server hosts {_quota.Max} rooms, its limit; join one of them"));
                return;
            }
            if (AnnouncesPresence) SendAll(new JoinedFrame(join.User, _name));
            member = AddMember(joiner, join.User, recipient);
        }
        if (join.AtLogin) return;
        var users = _members.Values.Select(m => m.User).Order(Usernames.Comparer).ToArray();
        member.To.Send(new JoinedFrame(join.User, _name, users), _lane, Self);
        var (from, to) = _tail.Page(null, _settings.JoinHistory, _deletedUpTo + 1);
        Answer(member.To, ChatCodec.FitHistory(_name, _tail.Slice(from, to), from > _deletedUpTo + 1), joined: _name);
    }

    private void Rejoin(RejoinRoom rejoin)
    {
        if (_members.ContainsKey(Sender)) Sender.Tell(new Rejoined(_name));
        else Readmit(Sender, rejoin.User);
    }

    /// <summary>
    /// Makes <paramref name="actor"/> a member again, silently, and tells it <see cref="Rejoined"/>
    /// so it watches this incarnation; false if this node hosts all the rooms it may.
    /// </summary>
    private bool Readmit(IActorRef actor, string user)
    {
        if (_members.Count == 0 && !_quota.TryOccupy())
        {
            _log.Warning("room {0}: {1} could not rejoin: this node hosts {2} rooms, its limit", _name, user, _quota.Max);
            return false;
        }
        AddMember(actor, user, _outboxes.RecipientOf(actor));
        actor.Tell(new Rejoined(_name));
        return true;
    }

    /// <summary>
    /// Sends the answer to a request the member waits on (a join, a history page); written into its
    /// queue, it is followed by <see cref="AnswerWritten"/> (with the room, for a join) so the member
    /// acts on its next line.
    /// </summary>
    private void Answer(Recipient to, ServerFrame frame, string? joined = null)
    {
        to.Send(frame, _lane, Self);
        if (to.IsLocal) to.Actor.Tell(joined is null ? AnswerWritten.Instance : new AnswerWritten(joined));
    }

    /// <summary>A frame for someone who may not be a member (an error): the same way its frames as a member go.</summary>
    private Recipient RecipientOf(IActorRef actor) =>
        _members.TryGetValue(actor, out var member) ? member.To : _outboxes.RecipientOf(actor);

    private void SendAll(ServerFrame frame)
    {
        foreach (var member in _members.Values) member.To.Send(frame, _lane, Self);
    }

    private Member AddMember(IActorRef actor, string user, Recipient to)
    {
        var member = new Member(user, to);
        _members.Add(actor, member);
        Context.Watch(actor);
        _directory.Tell(new RoomOccupancy(_name, _members.Count));
        UpdateIdleTimer();
        return member;
    }

    private void Part(PartRoom part)
    {
        var actor = Sender;
        if (!_members.ContainsKey(actor))
        {
            if (part.Reason == LeaveReasons.Part) RecipientOf(actor).Send(NotMember(_name), _lane, Self);
            if (part.Confirmation is not null) actor.Tell(part.Confirmation);
            return;
        }
        // Deferred: runs after the handlers of every message still being written, so the member
        // gets the messages accepted before it left (its own included), then its left, then the
        // confirmation.
        _members[actor] = _members[actor] with { Leaving = part.Reason };
        DeferAsync(part, p =>
        {
            TellStoredMessages();
            if (_members.TryGetValue(actor, out var member) && p.Reason == LeaveReasons.Part)
                member.To.Send(new LeftFrame(p.User, p.Reason, _name), _lane, Self);
            RemoveMember(actor, p.Reason);
            if (p.Confirmation is not null) actor.Tell(p.Confirmation);
        });
    }

    private void RemoveMember(IActorRef actor, string reason)
    {
        TellStoredMessages();
        if (!_members.Remove(actor, out var member)) return;
        Context.Unwatch(actor);
        if (AnnouncesPresence) SendAll(new LeftFrame(member.User, reason, _name));
        if (_members.Count == 0) _quota.Vacate();
        _directory.Tell(new RoomOccupancy(_name, _members.Count));
        UpdateIdleTimer();
    }

    private void Post(PostToRoom post)
    {
        // A connection says something only in a room it is in (it checks, and the lobby holds
        // everyone): one that is not a member here was a member of this room's last incarnation,
        // on a node that died, and its rejoin has not come yet (or was lost with that node).
        if (!_members.ContainsKey(Sender) && !Readmit(Sender, post.User))
        {
            RecipientOf(Sender).Send(NotMember(_name), _lane, Self);
            return;
        }
        _writing.Enqueue(Sender);
        PersistAsync(new RoomMessagePosted(post.User, post.Text, _clock()), posted =>
        {
            _writing.Dequeue();
            long id = LastSequenceNr;
            _tail.Add(new HistoryEntry(id, posted.From, posted.Text, posted.Ts));
            _stored.Add(new MessageFrame(posted.From, posted.Text, posted.Ts, _name, id));
            if (_stored.Count >= _settings.FanOutBatch) TellStoredMessages();
            else if (_stored.Count == 1) Self.Tell(TellStored.Instance);
            if (id % _settings.SnapshotEvery == 0)
            {
                _checkpoints.Add(new RoomCheckpoint(id, posted.Ts));
                SaveSnapshot(new RoomSnapshot(_tail.Entries, _deletedUpTo, [.. _checkpoints]));
            }
        });
    }

    private void History(GetHistory request)
    {
        if (!_members.TryGetValue(Sender, out var member))
        {
            Answer(RecipientOf(Sender), NotMember(_name));
            return;
        }
        TellStoredMessages(); // the page may hold them: the member gets them first, as they were stored
        long firstKept = _deletedUpTo + 1;
        var (from, to) = _tail.Page(request.Before, request.Limit, firstKept);
        bool more = from > firstKept;
        if (_tail.Covers(from, to))
        {
            Answer(member.To, ChatCodec.FitHistory(_name, _tail.Slice(from, to), more));
            return;
        }
        // Older than the tail: read the journal as a stream, off this actor's thread. The page is
        // told to the member's actor, which queues it: it holds only messages told long before.
        _readJournal ??= PersistenceQuery.Get(Context.System)
            .ReadJournalFor<ICurrentEventsByPersistenceIdQuery>(_settings.ReadJournalPluginId);
        var room = _name;
        _readJournal.CurrentEventsByPersistenceId(PersistenceId, from, to)
            .Where(e => e.Event is RoomMessagePosted)
            .Select(e =>
            {
                var posted = (RoomMessagePosted)e.Event;
                return new HistoryEntry(e.SequenceNr, posted.From, posted.Text, posted.Ts);
            })
            .RunWith(Sink.Seq<HistoryEntry>(), _materializer)
            .PipeTo(Sender,
                success: entries => ChatCodec.FitHistory(room, entries, more),
                failure: e => new ErrorFrame(ErrorCodes.BadRequest, "history is not available right now; try again"));
    }

    /// <summary>Sends every member the messages stored since the last time, one frame for them all.</summary>
    private void TellStoredMessages()
    {
        if (_stored.Count == 0) return;
        ServerFrame frame = _stored.Count == 1 ? _stored[0] : new FrameBatch(_stored.ToArray());
        _stored.Clear();
        SendAll(frame);
    }

    /// <summary>Deletes what retention no longer keeps: beyond max-messages, and older than max-age.</summary>
    private void ApplyRetention()
    {
        // The newest message always stays: it keeps the highest id, so ids are never reused.
        long newestDeletable = _tail.LastId - 1;
        long upTo = _tail.LastId - _settings.RetainMessages;
        if (_settings.RetainAge > TimeSpan.Zero)
        {
            long cutoff = _clock() - (long)_settings.RetainAge.TotalMilliseconds;
            foreach (var checkpoint in _checkpoints)
            {
                if (checkpoint.Ts < cutoff) upTo = Math.Max(upTo, checkpoint.Id);
            }
        }
        upTo = Math.Min(upTo, newestDeletable);
        if (upTo <= _deletedUpTo) return;
        _deletedUpTo = upTo;
        _tail.DropUpTo(upTo);
        _checkpoints.RemoveAll(c => c.Id <= upTo);
        DeleteMessages(upTo);
    }

    /// <summary>An empty room asks to be stopped after passivate-after; its history stays in the journal.</summary>
    private void UpdateIdleTimer() =>
        Context.SetReceiveTimeout(_members.Count == 0 ? _settings.PassivateAfter : null);

    protected override void PostStop()
    {
        TellStoredMessages();
        // Stopped with members: its shard moved (a node left) or the node is going down.
        if (_members.Count > 0)
        {
            _quota.Vacate();
            _directory.Tell(new RoomOccupancy(_name, 0));
        }
        base.PostStop();
    }

    /// <summary>
    /// A failed write stops the room (it restarts on its next message, from the journal): the sender of
    /// every message still being written is told that it reached no one (a write that timed out may
    /// still have been stored), after what was stored before.
    /// </summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "room {0}: writing message {1} failed; the room restarts on its next message", _name, sequenceNr);
        TellStoredMessages();
        while (_writing.TryDequeue(out var sender)) TellNotStored(sender);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>The journal refused one message (it could not be serialized); the room goes on.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "room {0}: message {1} was refused by the journal", _name, sequenceNr);
        TellStoredMessages();
        if (_writing.TryDequeue(out var sender)) TellNotStored(sender);
    }

    private void TellNotStored(IActorRef sender) =>
        RecipientOf(sender).Send(new ErrorFrame(ErrorCodes.NotStored,
            $"your message in \"{_name}\" reached no one: its write failed or timed out (a write that timed out may still be stored: look at the room's history before sending it again)"), _lane, Self);
}
