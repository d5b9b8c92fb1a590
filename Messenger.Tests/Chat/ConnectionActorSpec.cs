using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Files;
using Messenger.Net;
using Messenger.Protocol;
using Messenger.Rooms;
using Microsoft.AspNetCore.Connections;

namespace Messenger.Tests.Chat;

/// <summary>
/// The connection actor and its reading loop on in-memory pipes standing in for the socket, with
/// probes for the registry and the ticket office.
/// </summary>
public class ConnectionActorSpec : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private static readonly TokenBucketSettings UnlimitedFiles = new(1e9, 1_000_000);
    private readonly TestProbe _registry;
    private readonly TestProbe _rooms;
    private readonly TestProbe _roomDirectory;
    private readonly TestProbe _accounts;
    private readonly TestProbe _tickets;
    private readonly Pipe _toServer = new();
    private Pipe _toClient = new();
    private PipeConnectionContext? _transport;
    private readonly Queue<string> _unreadLines = new();

    public ConnectionActorSpec() : base("messenger.connection-mailbox.mailbox-type = \"Messenger.Net.CompactMailbox, Messenger.Actors\"")
    {
        _registry = CreateTestProbe();
        _rooms = CreateTestProbe();
        _roomDirectory = CreateTestProbe();
        _accounts = CreateTestProbe();
        _tickets = CreateTestProbe();
    }

    private static ChatSettings Settings(TimeSpan? idle = null, long outboundLimit = 1 << 20, RateLimitSettings? rateLimit = null,
        TimeSpan? loginTimeout = null, TokenBucketSettings? fileRequests = null, TimeSpan? accountAnswer = null) =>
        new(idle ?? TimeSpan.FromMinutes(1), loginTimeout ?? TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(2),
            outboundLimit, 64 * 1024, 64 * 1024, rateLimit, fileRequests ?? UnlimitedFiles, TimeSpan.FromMinutes(1), 2,
            accountAnswer ?? TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(12));

    private IActorRef Start(ChatSettings? settings = null, long clientReadsAtMost = 1 << 20)
    {
        _toClient = new Pipe(new PipeOptions(pauseWriterThreshold: clientReadsAtMost, resumeWriterThreshold: clientReadsAtMost / 2));
        _transport = new PipeConnectionContext(new DuplexPipe(_toServer.Reader, _toClient.Writer));
        return Sys.ActorOf(ConnectionActor.Props(ClientConnection.Plain(_transport),
            new ConnectionServices(_registry.Ref, _rooms.Ref, _roomDirectory.Ref, _accounts.Ref, _tickets.Ref, settings ?? Settings())));
    }

    private void Send(string text)
    {
        _toServer.Writer.Write(Encoding.UTF8.GetBytes(text));
        _toServer.Writer.FlushAsync().AsTask().Wait(Wait);
    }

    /// <summary>The next line the server wrote, or null at end of stream.</summary>
    private string? ReadLine()
    {
        if (_unreadLines.Count > 0) return _unreadLines.Dequeue();
        while (true)
        {
            var read = _toClient.Reader.ReadAsync().AsTask();
            Assert.True(read.Wait(Wait), "the server wrote nothing in time");
            var buffer = read.Result.Buffer;
            var text = Encoding.UTF8.GetString(buffer.ToArray());
            int lastNewline = text.LastIndexOf('\n');
            if (lastNewline >= 0)
            {
                _toClient.Reader.AdvanceTo(buffer.GetPosition(Encoding.UTF8.GetByteCount(text[..(lastNewline + 1)])), buffer.End);
                foreach (var line in text[..lastNewline].Split('\n')) _unreadLines.Enqueue(line);
                return _unreadLines.Dequeue();
            }
            _toClient.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (read.Result.IsCompleted) return null;
        }
    }

    private void ExpectNoFrameFor(TimeSpan time)
    {
        Assert.Empty(_unreadLines);
        var cancel = new CancellationTokenSource(time);
        var read = _toClient.Reader.ReadAsync(cancel.Token).AsTask();
        Assert.True(SpinWait.SpinUntil(() => read.IsCompleted, time + Wait));
        Assert.False(read.IsCompletedSuccessfully, "the server wrote something");
    }

    private ServerFrame ExpectFrame() =>
        ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(ReadLine() ?? throw new Xunit.Sdk.XunitException("the connection closed"))).Value!;

    private string ExpectError() => Assert.IsType<ErrorFrame>(ExpectFrame()).Code;

    private IActorRef LoggedIn(string name, ChatSettings? settings = null, long clientReadsAtMost = 1 << 20)
    {
        var connection = Start(settings, clientReadsAtMost);
        Send($"{{\"type\":\"hello\",\"user\":\"{name}\"}}\n");
        Assert.Equal(new ClaimName(name, IPAddress.Loopback), _registry.ExpectMsg<ClaimName>());
        // As the presence actor does: the welcome into the connection's queue, then the answer.
        var welcome = new WelcomeFrame(name, [name]);
        Outboxes.Get(Sys).Find(connection)!.Write(ChatCodec.EncodeWelcome(welcome), new OutboundQueue.FlushLane());
        connection.Tell(new NameClaimed(welcome, 0), _registry.Ref);
        Assert.IsType<WelcomeFrame>(ExpectFrame());
        return connection;
    }

    [Fact]
    public void Connection_must_run_on_the_compact_mailbox()
    {
        var connection = (ActorRefWithCell)Start();
        AwaitAssert(() => Assert.IsType<CompactMessageQueue>(Assert.IsType<ActorCell>(connection.Underlying).Mailbox!.MessageQueue), Wait);
    }

    [Fact]
    public void Connection_must_refuse_chat_before_login_but_answer_ping()
    {
        Start();
        Send("{\"type\":\"say\",\"text\":\"hi\"}\n{\"type\":\"ping\"}\n");
        Assert.Equal(ErrorCodes.NotLoggedIn, ExpectError());
        Assert.IsType<PongFrame>(ExpectFrame());
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_let_a_refused_name_try_again_and_hold_lines_until_the_answer()
    {
        var connection = Start();
        Send("{\"type\":\"hello\",\"user\":\"alice\"}\n{\"type\":\"hello\",\"user\":\"alice2\"}\n");
        _registry.ExpectMsg<ClaimName>();
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the second hello waits for the first answer
        connection.Tell(new NameRefused(new ErrorFrame(ErrorCodes.UsernameTaken, "taken")), _registry.Ref);
        Assert.Equal(ErrorCodes.UsernameTaken, ExpectError());
        Assert.Equal(new ClaimName("alice2", IPAddress.Loopback), _registry.ExpectMsg<ClaimName>());
    }

    [Fact]
    public void Connection_must_write_a_private_message_that_beats_the_welcome_after_it()
    {
        var connection = Start();
        Send("{\"type\":\"hello\",\"user\":\"alice\"}\n");
        _registry.ExpectMsg<ClaimName>();
        // The claim is granted and hands over a PM before the presence actor has queued the welcome.
        connection.Tell(new PrivateMessageFrame("bob", "alice", "early", 1), _registry.Ref);
        ExpectNoFrameFor(TimeSpan.FromMilliseconds(100));
        var welcome = new WelcomeFrame("alice", ["alice", "bob"]);
        Outboxes.Get(Sys).Find(connection)!.Write(ChatCodec.EncodeWelcome(welcome), new OutboundQueue.FlushLane());
        connection.Tell(new NameClaimed(welcome, 0), _registry.Ref);
        Assert.IsType<WelcomeFrame>(ExpectFrame());
        Assert.Equal("early", Assert.IsType<PrivateMessageFrame>(ExpectFrame()).Text);
        _accounts.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // nothing was kept for it
    }

    [Fact]
    public void Connection_must_tell_the_account_it_has_the_kept_messages_once_they_are_queued_behind_its_welcome()
    {
        LogInWithKeptMessages(Start(), new PrivateMessageFrame("bob", "alice", "while you were out", 1, Offline: true));
        Assert.Equal(new ToAccount("alice", new OfflineHandedOver(42)), _accounts.ExpectMsg<ToAccount>());
        Assert.IsType<WelcomeFrame>(ExpectFrame());
        Assert.True(Assert.IsType<PrivateMessageFrame>(ExpectFrame()).Offline);
    }

    [Fact]
    public void Connection_must_tell_the_account_it_has_the_kept_messages_only_once_they_are_written()
    {
        var connection = Start(clientReadsAtMost: 1024); // a client that has not read yet holds up the writes past 1 KiB
        LogInWithKeptMessages(connection, Enumerable.Range(0, 8).Select(i => new PrivateMessageFrame("bob", "alice", new string('x', 1000), i, Offline: true)).ToArray());
        _accounts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.IsType<WelcomeFrame>(ExpectFrame());
        for (int i = 0; i < 8; i++) Assert.True(Assert.IsType<PrivateMessageFrame>(ExpectFrame()).Offline);
        Assert.Equal(new ToAccount("alice", new OfflineHandedOver(42)), _accounts.ExpectMsg<ToAccount>());
    }

    /// <summary>
    /// Alice logs in with a password and is welcomed with <paramref name="kept"/> (her private messages
    /// kept up to journal position 42), queued behind the welcome as the presence actor queues them.
    /// </summary>
    private void LogInWithKeptMessages(IActorRef connection, params PrivateMessageFrame[] kept)
    {
        Send("{\"type\":\"hello\",\"user\":\"alice\",\"password\":\"correct horse\"}\n");
        _registry.ExpectMsg<ClaimName>();
        var welcome = new WelcomeFrame("alice", ["alice"]);
        var queue = Outboxes.Get(Sys).Find(connection)!;
        var lane = new OutboundQueue.FlushLane();
        queue.Write(ChatCodec.EncodeWelcome(welcome), lane);
        foreach (var message in kept) queue.Write(message.Line, lane);
        connection.Tell(new NameClaimed(welcome, 42), _registry.Ref);
    }

    [Fact]
    public void Connection_must_tell_the_client_when_its_account_does_not_answer_in_time_and_act_on_its_next_line()
    {
        LoggedIn("alice", Settings(accountAnswer: TimeSpan.FromMilliseconds(300)));
        Send("{\"type\":\"passwd\",\"old\":\"old password\",\"new\":\"new password\"}\n{\"type\":\"ping\"}\n");
        _accounts.ExpectMsg<ToAccount>();
        Assert.Equal(ErrorCodes.NotStored, ExpectError());
        Assert.IsType<PongFrame>(ExpectFrame());

        Send("{\"type\":\"register\",\"password\":\"correct horse\"}\n{\"type\":\"ping\"}\n");
        _registry.FishForMessage(m => m is RegisterName);
        Assert.Equal(ErrorCodes.NotStored, ExpectError());
        Assert.IsType<PongFrame>(ExpectFrame());
    }

    [Fact]
    public void Connection_must_not_time_out_a_later_request_by_the_deadline_of_an_answered_one()
    {
        var connection = LoggedIn("alice", Settings(accountAnswer: TimeSpan.FromMilliseconds(500)));
        Send("{\"type\":\"passwd\",\"old\":\"old password\",\"new\":\"new password\"}\n");
        _accounts.ExpectMsg<ToAccount>();
        connection.Tell(PasswordChangedFrame.Instance, _accounts.Ref);
        Assert.IsType<PasswordChangedFrame>(ExpectFrame());
        Send("{\"type\":\"who\"}\n");
        _registry.FishForMessage(m => m is ListUsers);
        ExpectNoFrameFor(TimeSpan.FromMilliseconds(800)); // the passwd's deadline passes meanwhile
        connection.Tell(new UsersFrame(["alice"]), _registry.Ref);
        Assert.IsType<UsersFrame>(ExpectFrame());
    }

    [Fact]
    public void Connection_that_closed_before_its_welcome_must_not_say_it_has_the_kept_messages()
    {
        var connection = Start();
        Watch(connection);
        Send("{\"type\":\"hello\",\"user\":\"alice\",\"password\":\"correct horse\"}\n");
        _registry.ExpectMsg<ClaimName>();
        _toServer.Writer.Complete(); // the client hangs up during the password check
        ExpectTerminated(connection);
        connection.Tell(new NameClaimed(new WelcomeFrame("alice", ["alice"]), 42), _registry.Ref);
        _accounts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Connection_must_route_say_pm_who_and_file_requests_as_typed_messages()
    {
        var connection = LoggedIn("alice");
        Send("{\"type\":\"say\",\"text\":\"hi\"}\n{\"type\":\"pm\",\"to\":\"bob\",\"text\":\"yo\"}\n{\"type\":\"who\"}\n");
        Assert.Equal(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "hi")), _rooms.ExpectMsg<ToRoom>());
        Assert.Equal(new SendPrivate("bob", "yo"), _registry.ExpectMsg<SendPrivate>());
        _registry.ExpectMsg<ListUsers>();
        connection.Tell(new UsersFrame(["alice"]), _registry.Ref);
        Send("{\"type\":\"files\"}\n{\"type\":\"files\",\"offset\":100,\"limit\":50}\n{\"type\":\"get\",\"file\":\"a.txt\",\"via\":\"udp\"}\n");
        Assert.Equal(new ListFiles(0, null), _tickets.ExpectMsg<ListFiles>());
        connection.Tell(new FilesFrame([]), _tickets.Ref);
        Assert.Equal(new ListFiles(100, 50), _tickets.ExpectMsg<ListFiles>());
        connection.Tell(new FilesFrame([]), _tickets.Ref);
        Assert.Equal(new IssueTicket("a.txt", TransferVia.Udp, IPAddress.Loopback), _tickets.ExpectMsg<IssueTicket>());
    }

    [Fact]
    public void Connection_must_ask_the_room_directory_for_rooms_and_tell_room_chat_to_the_region()
    {
        var connection = LoggedIn("alice");
        Send("{\"type\":\"rooms\"}\n{\"type\":\"say\",\"text\":\"then\"}\n");
        _roomDirectory.ExpectMsg<ListRooms>();
        _rooms.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the say waits for the answer
        connection.Tell(new RoomsFrame([new RoomEntry("lobby", 1)]), _roomDirectory.Ref);
        Assert.Equal([new RoomEntry("lobby", 1)], Assert.IsType<RoomsFrame>(ExpectFrame()).Rooms);
        Assert.Equal(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "then")), _rooms.ExpectMsg<ToRoom>());
        _roomDirectory.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_act_on_nothing_else_while_an_answer_from_another_actor_is_outstanding()
    {
        var connection = LoggedIn("alice");
        Send("{\"type\":\"who\"}\n{\"type\":\"who\"}\n{\"type\":\"say\",\"text\":\"after\"}\n");
        _registry.ExpectMsg<ListUsers>();
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the second who waits for the first answer
        connection.Tell(new UsersFrame(["alice"]), _registry.Ref);
        _registry.ExpectMsg<ListUsers>();
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        connection.Tell(new UsersFrame(["alice"]), _registry.Ref);
        Assert.Equal(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "after")), _rooms.ExpectMsg<ToRoom>());
    }

    [Fact]
    public void Connection_must_write_frames_it_is_sent_in_order()
    {
        var connection = LoggedIn("alice");
        connection.Tell(new MessageFrame("bob", "one", 1));
        connection.Tell(new MessageFrame("bob", "two", 2));
        connection.Tell(new MessageFrame("bob", "three", 3));
        Assert.Equal("one", Assert.IsType<MessageFrame>(ExpectFrame()).Text);
        Assert.Equal("two", Assert.IsType<MessageFrame>(ExpectFrame()).Text);
        Assert.Equal("three", Assert.IsType<MessageFrame>(ExpectFrame()).Text);
    }

    [Fact]
    public void Connection_must_answer_errors_and_stay_open()
    {
        LoggedIn("alice");
        Send("{nope\n{\"type\":\"hello\",\"user\":\"x\"}\n{\"type\":\"say\",\"text\":\"\"}\n");
        Assert.Equal(ErrorCodes.BadRequest, ExpectError());
        Assert.Equal(ErrorCodes.AlreadyLoggedIn, ExpectError());
        Assert.Equal(ErrorCodes.BadRequest, ExpectError());
        Send("{\"type\":\"ping\"}\n");
        Assert.IsType<PongFrame>(ExpectFrame());
    }

    [Fact]
    public void Connection_must_close_after_a_line_that_is_too_long()
    {
        var connection = LoggedIn("alice");
        Send(new string('x', ProtocolLimits.MaxLineBytes + 1));
        Assert.Equal(ErrorCodes.LineTooLong, ExpectError());
        Assert.Equal(LeaveReasons.Disconnected, _registry.ExpectMsg<LeaveChat>().Reason);
        Watch(connection);
        connection.Tell(LeftChat.Instance, _registry.Ref);
        Assert.Null(ReadLine());
        ExpectTerminated(connection);
    }

    [Fact]
    public void Connection_must_leave_with_quit_on_bye_after_delivering_what_the_registry_sent_before()
    {
        var connection = LoggedIn("alice");
        Send("{\"type\":\"say\",\"text\":\"last words\"}\n{\"type\":\"bye\"}\n");
        _rooms.ExpectMsg<ToRoom>();
        Assert.Equal(LeaveReasons.Quit, _registry.ExpectMsg<LeaveChat>().Reason);
        Watch(connection);
        connection.Tell(new MessageFrame("alice", "last words", 1), _registry.Ref);
        connection.Tell(LeftChat.Instance, _registry.Ref);
        Assert.IsType<MessageFrame>(ExpectFrame());
        Assert.Null(ReadLine()); // then a clean end of stream
        ExpectTerminated(connection);
    }

    [Fact]
    public void Connection_must_drop_a_client_that_does_not_read_as_slow()
    {
        // The client's side holds at most 1 KB unread, the server queues at most 1,000 bytes more.
        var connection = LoggedIn("alice", Settings(outboundLimit: 1000), clientReadsAtMost: 1024);
        Watch(connection);
        for (int i = 0; i < 80; i++) connection.Tell(new MessageFrame("bob", new string('x', 50), i));
        Assert.Equal(LeaveReasons.Slow, _registry.ExpectMsg<LeaveChat>().Reason);
        ExpectTerminated(connection);
        Assert.True(_transport!.ConnectionClosed.WaitHandle.WaitOne(Wait), "the connection was not cut");
    }

    [Fact]
    public void Connection_must_stop_reading_a_client_that_pipelines_faster_than_it_reads()
    {
        // A client that sends pings and never reads the pongs: the server stops acting on its input
        // once the pongs it cannot deliver pass half the outbound limit; it is slowed, not dropped.
        var connection = LoggedIn("alice", Settings(outboundLimit: 4000), clientReadsAtMost: 1024);
        Watch(connection);
        var pings = string.Concat(Enumerable.Repeat("{\"type\":\"ping\"}\n", 2000));
        _ = _toServer.Writer.WriteAsync(Encoding.UTF8.GetBytes(pings)).AsTask();
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // not dropped as slow
        // Now the client reads everything: every ping gets its pong.
        int pongs = 0;
        while (pongs < 2000) { Assert.IsType<PongFrame>(ExpectFrame()); pongs++; }
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_time_out_a_silent_client()
    {
        // 2 s: the first check must come before the client has been silent that long, even if the machine stalls.
        var idle = TimeSpan.FromSeconds(2);
        var connection = LoggedIn("alice", Settings(idle: idle));
        connection.Tell(IdleCheck.Instance); // the registry's sweep, before the client has been silent long enough
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        AwaitAssert(() =>
        {
            connection.Tell(IdleCheck.Instance);
            Assert.Equal(LeaveReasons.Timeout, _registry.ExpectMsg<LeaveChat>(TimeSpan.FromMilliseconds(100)).Reason);
        }, idle + Wait, TimeSpan.FromMilliseconds(100));
        Assert.Equal(ErrorCodes.IdleTimeout, ExpectError()); // the client is told why
    }

    [Fact]
    public void Connection_must_close_a_client_that_does_not_log_in_in_time_even_if_it_trickles_bytes()
    {
        var connection = Start(Settings(loginTimeout: TimeSpan.FromMilliseconds(500)));
        Watch(connection);
        Send("{\"type\":");
        Send("\"hel"); // never a whole line
        Assert.Equal(ErrorCodes.LoginTimeout, ExpectError());
        Assert.Null(ReadLine());
        ExpectTerminated(connection);
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Connection_must_keep_a_pinging_client_alive()
    {
        // Pings 300 ms apart for 3.6 s keep alive a client whose idle timeout is 3 s. Each idle check
        // comes ~300 ms after the last ping, so only a stall of 2.7 s could close it (1.5 s had left
        // 1.2 s, and a 2-core machine running the whole suite once stalled that long).
        var connection = LoggedIn("alice", Settings(idle: TimeSpan.FromSeconds(3)));
        for (int i = 0; i < 12; i++)
        {
            Send("{\"type\":\"ping\"}\n");
            Assert.IsType<PongFrame>(ExpectFrame());
            _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
            connection.Tell(IdleCheck.Instance);
        }
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_answer_the_first_line_over_the_rate_limit_and_drop_the_rest_silently()
    {
        LoggedIn("alice", Settings(rateLimit: new RateLimitSettings(new TokenBucketSettings(0.001, 3), TimeSpan.FromMinutes(1), 100)));
        // The hello took the first of 3 tokens.
        Send("{\"type\":\"ping\"}\n{\"type\":\"ping\"}\n{\"type\":\"say\",\"text\":\"spam\"}\n{\"type\":\"ping\"}\n{\"type\":\"ping\"}\n");
        Assert.IsType<PongFrame>(ExpectFrame());
        Assert.IsType<PongFrame>(ExpectFrame());
        Assert.Equal(ErrorCodes.RateLimited, ExpectError());
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Send("{\"type\":\"ping\"}\n");
        ExpectNoFrameFor(TimeSpan.FromMilliseconds(200)); // refused lines after the first get no answer
    }

    [Fact]
    public void Connection_must_close_a_client_that_keeps_flooding()
    {
        var connection = LoggedIn("alice", Settings(rateLimit: new RateLimitSettings(new TokenBucketSettings(0.001, 2), TimeSpan.FromMinutes(1), 50)));
        Watch(connection);
        Send(string.Concat(Enumerable.Repeat("{\"type\":\"ping\"}\n", 100)));
        Assert.IsType<PongFrame>(ExpectFrame());
        Assert.Equal(ErrorCodes.RateLimited, ExpectError());
        Assert.Equal(ErrorCodes.RateLimited, ExpectError()); // the closing one
        Assert.Equal(LeaveReasons.Disconnected, _registry.ExpectMsg<LeaveChat>().Reason);
        connection.Tell(LeftChat.Instance, _registry.Ref);
        ExpectTerminated(connection);
    }

    [Fact]
    public void Connection_must_rate_limit_file_requests_on_their_own()
    {
        var connection = LoggedIn("alice", Settings(fileRequests: new TokenBucketSettings(0.001, 1)));
        Send("{\"type\":\"files\"}\n");
        _tickets.ExpectMsg<ListFiles>();
        connection.Tell(new FilesFrame([]), _tickets.Ref);
        Assert.IsType<FilesFrame>(ExpectFrame());
        Send("{\"type\":\"files\"}\n{\"type\":\"ping\"}\n");
        Assert.Equal(ErrorCodes.RateLimited, ExpectError());
        Assert.IsType<PongFrame>(ExpectFrame());
        _tickets.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_say_the_server_is_shutting_down_then_close()
    {
        var connection = LoggedIn("alice");
        Watch(connection);
        connection.Tell(ServerStopping.Instance);
        Assert.Equal(ErrorCodes.ServerShutdown, ExpectError());
        Assert.Equal(LeaveReasons.Disconnected, _registry.ExpectMsg<LeaveChat>().Reason);
        connection.Tell(LeftChat.Instance, _registry.Ref);
        Assert.Null(ReadLine());
        ExpectTerminated(connection);
    }

    [Fact]
    public void Connection_must_leave_as_disconnected_when_the_peer_goes_away_and_stop_once_the_leave_is_confirmed()
    {
        var connection = LoggedIn("alice");
        Watch(connection);
        _toServer.Writer.Complete();
        Assert.Equal(LeaveReasons.Disconnected, _registry.ExpectMsg<LeaveChat>().Reason);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // still there: its leave may not have reached the lobby yet
        connection.Tell(LeftChat.Instance, _registry.Ref);
        ExpectTerminated(connection);
    }

    /// <summary>A connection whose transport is a pair of in-memory pipes; Abort marks it closed.</summary>
    private sealed class PipeConnectionContext(IDuplexPipe transport) : ConnectionContext
    {
        private readonly CancellationTokenSource _closed = new();

        public override string ConnectionId { get; set; } = "test";
        public override Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();
        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
        public override IDuplexPipe Transport { get; set; } = transport;
        public override EndPoint? RemoteEndPoint { get; set; } = new IPEndPoint(IPAddress.Loopback, 50000);
        public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            _closed.Cancel();
            Transport.Output.Complete(abortReason);
        }

        public override ValueTask DisposeAsync()
        {
            Transport.Output.Complete();
            return default;
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
