using System.Net;
using System.Text;
using Akka.Actor;
using Akka.IO;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Chat;
using Messenger.Files;
using Messenger.Net;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Tests.Chat;

/// <summary>The connection actor with probes standing in for the socket, the registry and the ticket office.</summary>
public class ConnectionActorSpec : TestKit
{
    private static readonly EndPoint Remote = new IPEndPoint(IPAddress.Loopback, 50000);
    private readonly TestProbe _tcp;
    private readonly TestProbe _registry;
    private readonly TestProbe _rooms;
    private readonly TestProbe _tickets;

    public ConnectionActorSpec()
    {
        _tcp = CreateTestProbe();
        _registry = CreateTestProbe();
        _rooms = CreateTestProbe();
        _tickets = CreateTestProbe();
    }

    private IActorRef Start(ChatSettings? settings = null) =>
        Sys.ActorOf(ConnectionActor.Props(_tcp.Ref, Remote, _registry.Ref, _rooms.Ref, _tickets.Ref,
            settings ?? new ChatSettings(TimeSpan.FromMinutes(1), 1 << 20, false, 1, 1, 2)));

    private static void Receive(IActorRef connection, string text) =>
        connection.Tell(new Tcp.Received(ByteString.FromString(text)));

    /// <summary>The next write to the socket, acknowledged so the next one can follow.</summary>
    private string ExpectWrite(IActorRef connection)
    {
        var write = _tcp.ExpectMsg<Tcp.Write>();
        connection.Tell(write.Ack, _tcp.Ref);
        return write.Data.ToString(Encoding.UTF8);
    }

    private readonly Queue<string> _unreadLines = new();

    /// <summary>The next frame written, whether it came alone or batched with others.</summary>
    private ServerFrame ExpectFrame(IActorRef connection)
    {
        if (_unreadLines.Count == 0)
            foreach (var line in ExpectWrite(connection).Split('\n', StringSplitOptions.RemoveEmptyEntries)) _unreadLines.Enqueue(line);
        return ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(_unreadLines.Dequeue())).Value!;
    }

    private IActorRef LoggedIn(string name, ChatSettings? settings = null)
    {
        var connection = Start(settings);
        Receive(connection, $"{{\"type\":\"hello\",\"user\":\"{name}\"}}\n");
        Assert.Equal(new ClaimName(name), _registry.ExpectMsg<ClaimName>());
        connection.Tell(new NameClaimed(new WelcomeFrame(name, [name])), _registry.Ref);
        Assert.IsType<WelcomeFrame>(ExpectFrame(connection));
        return connection;
    }

    [Fact]
    public void Connection_must_refuse_chat_before_login_but_answer_ping()
    {
        var connection = Start();
        Receive(connection, "{\"type\":\"say\",\"text\":\"hi\"}\n{\"type\":\"ping\"}\n");
        Assert.Equal(ErrorCodes.NotLoggedIn, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        Assert.IsType<PongFrame>(ExpectFrame(connection));
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_let_a_refused_name_try_again_and_hold_lines_until_the_answer()
    {
        var connection = Start();
        Receive(connection, "{\"type\":\"hello\",\"user\":\"alice\"}\n{\"type\":\"hello\",\"user\":\"alice2\"}\n");
        _registry.ExpectMsg<ClaimName>();
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the second hello waits for the first answer
        connection.Tell(new NameRefused(new ErrorFrame(ErrorCodes.UsernameTaken, "taken")), _registry.Ref);
        Assert.Equal(ErrorCodes.UsernameTaken, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        Assert.Equal(new ClaimName("alice2"), _registry.ExpectMsg<ClaimName>());
    }

    [Fact]
    public void Connection_must_route_say_pm_who_and_file_requests_as_typed_messages()
    {
        var connection = LoggedIn("alice");
        Receive(connection, "{\"type\":\"say\",\"text\":\"hi\"}\n{\"type\":\"pm\",\"to\":\"bob\",\"text\":\"yo\"}\n{\"type\":\"who\"}\n");
        Assert.Equal(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "hi")), _rooms.ExpectMsg<ToRoom>());
        Assert.Equal(new SendPrivate("bob", "yo"), _registry.ExpectMsg<SendPrivate>());
        _registry.ExpectMsg<ListUsers>();
        Receive(connection, "{\"type\":\"files\"}\n{\"type\":\"get\",\"file\":\"a.txt\",\"via\":\"udp\"}\n");
        _tickets.ExpectMsg<ListFiles>();
        Assert.Equal(new IssueTicket("a.txt", TransferVia.Udp), _tickets.ExpectMsg<IssueTicket>());
    }

    [Fact]
    public void Connection_must_write_frames_it_is_sent_and_batch_them_while_a_write_is_in_flight()
    {
        var connection = LoggedIn("alice");
        connection.Tell(new MessageFrame("bob", "one", 1));
        var first = _tcp.ExpectMsg<Tcp.Write>();
        connection.Tell(new MessageFrame("bob", "two", 2));
        connection.Tell(new MessageFrame("bob", "three", 3));
        _tcp.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // waiting for the ack
        connection.Tell(first.Ack, _tcp.Ref);
        var batch = _tcp.ExpectMsg<Tcp.Write>().Data.ToString(Encoding.UTF8);
        Assert.Equal(2, batch.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"two\"", batch);
        Assert.Contains("\"three\"", batch);
    }

    [Fact]
    public void Connection_must_answer_errors_and_stay_open()
    {
        var connection = LoggedIn("alice");
        Receive(connection, "{nope\n{\"type\":\"hello\",\"user\":\"x\"}\n{\"type\":\"say\",\"text\":\"\"}\n");
        Assert.Equal(ErrorCodes.BadRequest, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        Assert.Equal(ErrorCodes.AlreadyLoggedIn, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        Assert.Equal(ErrorCodes.BadRequest, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        Receive(connection, "{\"type\":\"ping\"}\n");
        Assert.IsType<PongFrame>(ExpectFrame(connection));
    }

    [Fact]
    public void Connection_must_close_after_a_line_that_is_too_long()
    {
        var connection = LoggedIn("alice");
        Receive(connection, new string('x', ProtocolLimits.MaxLineBytes + 1));
        Assert.Equal(ErrorCodes.LineTooLong, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        Assert.Equal(LeaveReasons.Disconnected, _registry.ExpectMsg<LeaveChat>().Reason);
        connection.Tell(LeftChat.Instance, _registry.Ref);
        _tcp.ExpectMsg<Tcp.Close>();
    }

    [Fact]
    public void Connection_must_leave_with_quit_on_bye_after_delivering_what_the_registry_sent_before()
    {
        var connection = LoggedIn("alice");
        Receive(connection, "{\"type\":\"say\",\"text\":\"last words\"}\n{\"type\":\"bye\"}\n");
        _rooms.ExpectMsg<ToRoom>();
        Assert.Equal(LeaveReasons.Quit, _registry.ExpectMsg<LeaveChat>().Reason);
        connection.Tell(new MessageFrame("alice", "last words", 1), _registry.Ref);
        connection.Tell(LeftChat.Instance, _registry.Ref);
        Assert.IsType<MessageFrame>(ExpectFrame(connection));
        _tcp.ExpectMsg<Tcp.Close>();
        Watch(connection);
        connection.Tell(Tcp.Closed.Instance, _tcp.Ref);
        ExpectTerminated(connection);
    }

    [Fact]
    public void Connection_must_drop_a_client_that_does_not_read_as_slow()
    {
        var connection = LoggedIn("alice", new ChatSettings(TimeSpan.FromMinutes(1), 1000, false, 1, 1, 2));
        Watch(connection);
        _tcp.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        for (int i = 0; i < 40; i++) connection.Tell(new MessageFrame("bob", new string('x', 50), i)); // no acks: the socket is stuck
        Assert.Equal(LeaveReasons.Slow, _registry.ExpectMsg<LeaveChat>().Reason);
        _tcp.FishForMessage(m => m is Tcp.Abort);
        ExpectTerminated(connection);
    }

    [Fact]
    public void Connection_must_time_out_a_silent_client()
    {
        var connection = LoggedIn("alice", new ChatSettings(TimeSpan.FromMilliseconds(300), 1 << 20, false, 1, 1, 2));
        Assert.Equal(LeaveReasons.Timeout, _registry.ExpectMsg<LeaveChat>(TimeSpan.FromSeconds(5)).Reason);
    }

    [Fact]
    public void Connection_must_keep_a_pinging_client_alive()
    {
        // Pings 300 ms apart for 2.4 s keep alive a client whose idle timeout is 1.5 s.
        var connection = LoggedIn("alice", new ChatSettings(TimeSpan.FromMilliseconds(1500), 1 << 20, false, 1, 1, 2));
        for (int i = 0; i < 8; i++)
        {
            Receive(connection, "{\"type\":\"ping\"}\n");
            Assert.IsType<PongFrame>(ExpectFrame(connection));
            _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        }
    }

    [Fact]
    public void Connection_must_rate_limit_floods()
    {
        var connection = LoggedIn("alice", new ChatSettings(TimeSpan.FromMinutes(1), 1 << 20, true, 0.001, 3, 2));
        Receive(connection, "{\"type\":\"ping\"}\n{\"type\":\"ping\"}\n{\"type\":\"say\",\"text\":\"spam\"}\n"); // the hello took the first of 3 tokens
        Assert.IsType<PongFrame>(ExpectFrame(connection));
        Assert.IsType<PongFrame>(ExpectFrame(connection));
        Assert.Equal(ErrorCodes.RateLimited, Assert.IsType<ErrorFrame>(ExpectFrame(connection)).Code);
        _registry.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Connection_must_leave_as_disconnected_when_the_peer_goes_away()
    {
        var connection = LoggedIn("alice");
        Watch(connection);
        connection.Tell(Tcp.PeerClosed.Instance, _tcp.Ref);
        Assert.Equal(LeaveReasons.Disconnected, _registry.ExpectMsg<LeaveChat>().Reason);
        ExpectTerminated(connection);
    }
}
