using System.Net;
using Messenger.Client;
using Messenger.Protocol;
using Messenger.TerminalClient;

namespace Messenger.Tests.TerminalClient;

public class ChatViewModelTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private DateTimeOffset _now = Start;

    private ChatViewModel NewViewModel(Func<string, bool>? alreadyDownloaded = null) => new(() => _now, alreadyDownloaded);

    private ChatViewModel LoggedIn(params string[] others) => LoggedIn(NewViewModel(), others);

    private static ChatViewModel LoggedIn(ChatViewModel vm, params string[] others)
    {
        vm.BeginConnect("127.0.0.1:7400");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 7400)));
        vm.Apply(new SessionFrameReceived(new WelcomeFrame("alice", ["alice", .. others])));
        return vm;
    }

    private static IReadOnlyList<Reaction> Frame(ChatViewModel vm, ServerFrame frame) => vm.Apply(new SessionFrameReceived(frame));

    [Fact]
    public void Welcome_sets_me_the_users_and_goes_online()
    {
        var vm = LoggedIn("carol", "Bob");
        Assert.Equal(ConnectionState.Online, vm.State);
        Assert.Equal("alice", vm.Me);
        Assert.Equal(["alice", "Bob", "carol"], vm.Users);
        Assert.Contains("online as alice", vm.StatusText);
        Assert.Equal(LineKind.System, vm.Log[^1].Kind);
    }

    [Fact]
    public void The_user_count_in_the_title_follows_joins_and_leaves()
    {
        var vm = LoggedIn("bob");
        int stateChanges = 0;
        vm.StateChanged += () => stateChanges++;
        Assert.Contains("2 online", vm.StatusText);
        Frame(vm, new JoinedFrame("carol"));
        Assert.Contains("3 online", vm.StatusText);
        Assert.Equal("online (3)", vm.ShortState);
        Frame(vm, new LeftFrame("bob", LeaveReasons.Quit));
        Assert.Contains("2 online", vm.StatusText);
        Assert.True(stateChanges >= 2, "the title is redrawn on every change of the count");
    }

    [Fact]
    public void Own_and_others_messages_are_told_apart_and_keep_the_server_time()
    {
        var vm = LoggedIn("bob");
        long ts = new DateTimeOffset(2026, 5, 6, 7, 8, 9, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Frame(vm, new MessageFrame("alice", "mine", ts));
        Frame(vm, new MessageFrame("bob", "theirs", ts));
        Assert.Equal(LineKind.Own, vm.Log[^2].Kind);
        Assert.Equal(("alice", "mine"), (vm.Log[^2].From, vm.Log[^2].Text));
        Assert.Equal(LineKind.Other, vm.Log[^1].Kind);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(ts), vm.Log[^1].Time);
        Assert.NotEqual(ChatLine.Prefix(LineKind.Own), ChatLine.Prefix(LineKind.Other));
        Assert.EndsWith("<bob> theirs", vm.Log[^1].Render());
    }

    [Fact]
    public void A_sent_message_is_pending_until_the_server_echoes_it()
    {
        var vm = LoggedIn("bob");
        var sent = vm.Submit("hello there");
        Assert.True(sent.ClearInput);
        Assert.Equal([new SayCommand("hello there")], sent.Send);
        var pending = vm.Log[^1];
        Assert.Equal((LineKind.Own, Delivery.Pending), (pending.Kind, pending.Delivery));
        Assert.Contains("sending", pending.Render());

        Frame(vm, new MessageFrame("alice", "hello there", 42));
        Assert.Single(vm.Log, l => l.Text == "hello there");
        Assert.Equal(Delivery.Delivered, vm.Log[^1].Delivery);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(42), vm.Log[^1].Time);
    }

    [Fact]
    public void A_message_still_pending_when_the_connection_drops_is_shown_as_not_sent()
    {
        var vm = LoggedIn("bob");
        vm.Submit("into the void");
        vm.Apply(new SessionDisconnected("nothing heard from the server for 70 s"));
        var line = vm.Log.Single(l => l.Text == "into the void");
        Assert.Equal(Delivery.Failed, line.Delivery);
        Assert.Contains("NOT SENT", line.Render());
    }

    [Fact]
    public void Typing_while_offline_keeps_the_text_and_says_why()
    {
        var vm = LoggedIn();
        vm.Apply(new SessionDisconnected("the server closed the connection"));
        var outcome = vm.Submit("hello?");
        Assert.False(outcome.ClearInput);
        Assert.Empty(outcome.Send);
        Assert.Contains("not connected", vm.Log[^1].Text);
    }

    [Fact]
    public void An_over_long_text_is_kept_and_its_length_is_told()
    {
        var vm = LoggedIn();
        var outcome = vm.Submit(new string('x', 5_000));
        Assert.False(outcome.ClearInput);
        Assert.Empty(outcome.Send);
        Assert.Equal(LineKind.Error, vm.Log[^1].Kind);
        Assert.Contains("5,000", vm.Log[^1].Text);
    }

    [Fact]
    public void Me_is_shown_as_an_action()
    {
        var vm = LoggedIn("bob");
        Frame(vm, new MessageFrame("bob", "/me waves", 1));
        Assert.Equal((LineKind.Action, "bob", "waves"), (vm.Log[^1].Kind, vm.Log[^1].From, vm.Log[^1].Text));
        Assert.EndsWith("* bob waves", vm.Log[^1].Render());
        vm.Submit("/me nods");
        Frame(vm, new MessageFrame("alice", "/me nods", 2));
        Assert.Equal(Delivery.Delivered, vm.Log.Single(l => l.Text == "nods").Delivery);
    }

    [Fact]
    public void Private_messages_open_their_own_conversation_with_an_unread_count_and_a_bell()
    {
        var vm = LoggedIn("bob");
        var reactions = Frame(vm, new PrivateMessageFrame("bob", "alice", "psst", 1));
        Assert.Contains(RingBell.Instance, reactions);
        Assert.Equal(["bob"], vm.Conversations);
        Assert.Equal(1, vm.Unread("bob"));
        Assert.Equal("[lobby] bob(1)", vm.ConversationBar());
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Text == "psst"); // the room does not show it

        vm.CycleConversation(1);
        Assert.Equal("bob", vm.Current);
        Assert.Equal(0, vm.Unread("bob"));
        Assert.Equal("lobby [bob]", vm.ConversationBar());
        Assert.Contains(vm.VisibleLines(), l => l.Text == "psst" && l.Kind == LineKind.PmIn);

        // Plain text in a conversation goes to the other person.
        var outcome = vm.Submit("yes?");
        Assert.Equal([new PmCommand("bob", "yes?")], outcome.Send);
        Frame(vm, new PrivateMessageFrame("alice", "bob", "yes?", 2));
        Assert.Equal((LineKind.PmOut, Delivery.Delivered), (vm.Log[^1].Kind, vm.Log[^1].Delivery));

        // A room message while in the conversation counts as unread in the room.
        Frame(vm, new MessageFrame("carol", "hi all", 3));
        Assert.Equal(1, vm.Unread(null));
        vm.CycleConversation(-1);
        Assert.Null(vm.Current);
    }

    [Theory]
    [InlineData("/pm Bob")]
    [InlineData("/query bob")]
    [InlineData("/msg bob ")]
    public void Pm_or_query_without_text_opens_the_conversation(string typed)
    {
        var vm = LoggedIn("Bob");
        var outcome = vm.Submit(typed);
        Assert.True(outcome.ClearInput);
        Assert.Empty(outcome.Send);
        Assert.Equal("[bob]", vm.ConversationBar().Split(' ')[1].ToLowerInvariant());
        Assert.Equal("bob", vm.Current, ignoreCase: true);
        Assert.Empty(vm.VisibleLines());
        Assert.False(vm.Submit("/query alice").ClearInput); // not with oneself
    }

    [Fact]
    public void A_pm_to_no_one_closes_the_conversation_it_opened_and_says_so_where_it_was_typed()
    {
        var vm = LoggedIn("bob");
        vm.Submit("/join rust");
        Frame(vm, new JoinedFrame("alice", "rust", ["alice", "bob"]));
        Assert.Equal("#rust", vm.Current);

        vm.Submit("/pm nobody hi\nthere"); // two lines, two refusals
        Assert.Equal("nobody", vm.Current);
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchUser, "no user named \"nobody\" is online"));
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchUser, "no user named \"nobody\" is online"));
        Assert.Equal("#rust", vm.Current);
        Assert.DoesNotContain("nobody", vm.Conversations);
        Assert.Equal("lobby [#rust]", vm.ConversationBar());
        Assert.DoesNotContain(vm.Log, l => l.Conversation == "nobody");
        Assert.Single(vm.VisibleLines(), l => l.Kind == LineKind.Error && l.Text.Contains("no user named \"nobody\""));

        // In a conversation that holds more, the line stays, marked not sent, with the error below it.
        Frame(vm, new PrivateMessageFrame("carol", "alice", "bye for now", 5));
        vm.SwitchTo("carol");
        vm.Submit("wait");
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchUser, "no user named \"carol\" is online"));
        Assert.Equal("carol", vm.Current);
        var lines = vm.VisibleLines().ToList();
        Assert.Equal((Delivery.Refused, "wait  (NOT SENT)"), (lines[^2].Delivery, lines[^2].Body));
        Assert.Equal(LineKind.Error, lines[^1].Kind);
    }

    [Fact]
    public void A_refusal_still_due_when_the_connection_was_lost_does_not_swallow_one_on_the_next()
    {
        var vm = LoggedIn("bob");
        vm.Submit("/pm nobody hi\nthere"); // two lines: two refusals due
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchUser, "no user named \"nobody\" is online"));
        Frame(vm, new WelcomeFrame("bob", ["bob"])); // the second never came: logged in again
        Frame(vm, new PrivateMessageFrame("carol", "bob", "bye for now", 5));
        vm.SwitchTo("carol");
        vm.Submit("wait");
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchUser, "no user named \"carol\" is online"));
        Assert.Equal(Delivery.Refused, vm.VisibleLines().Last(l => l.Kind == LineKind.PmOut).Delivery);
    }

    [Fact]
    public void My_own_pm_is_not_unread_and_the_conversation_takes_the_servers_spelling_and_shows_a_kept_message()
    {
        var vm = LoggedIn("Dave");
        vm.Submit("/pm dave are you there?");
        Assert.Null(vm.Current); // sent from the lobby: the lobby stays shown
        Assert.Equal(0, vm.Unread("dave"));
        Frame(vm, new PrivateMessageFrame("alice", "Dave", "are you there?", 1));
        Assert.Equal(["Dave"], vm.Conversations);
        Assert.Equal("[lobby] Dave", vm.ConversationBar());
        var line = Assert.Single(vm.Log, l => l.Kind == LineKind.PmOut);
        Assert.Equal(("Dave", Delivery.Delivered), (line.Conversation, line.Delivery));

        // Dave went offline; he is registered, so the server keeps the message for him.
        vm.SwitchTo("dave");
        Assert.Equal("Dave", vm.Current);
        vm.Submit("see you tomorrow");
        Frame(vm, new PrivateMessageFrame("alice", "Dave", "see you tomorrow", 2, Queued: true));
        var kept = vm.VisibleLines().Last();
        Assert.Equal(Delivery.Queued, kept.Delivery);
        Assert.Contains("kept for Dave, who is offline", kept.Render());
        Assert.Equal("lobby [Dave]", vm.ConversationBar());
    }

    [Fact]
    public void A_mention_of_my_name_rings_and_is_marked_but_not_a_longer_name()
    {
        var vm = LoggedIn("bob");
        Assert.Contains(RingBell.Instance, Frame(vm, new MessageFrame("bob", "hey Alice, look", 1)));
        Assert.True(vm.Log[^1].Mentioned);
        Assert.Empty(Frame(vm, new MessageFrame("bob", "ask alice2 or malice", 2)));
        Assert.False(vm.Log[^1].Mentioned);
        Assert.Empty(Frame(vm, new MessageFrame("alice", "I am alice", 3)));
    }

    [Fact]
    public void Joins_and_leaves_keep_the_user_list_live_and_can_be_hidden()
    {
        var vm = LoggedIn();
        int changes = 0;
        vm.UsersChanged += () => changes++;
        Frame(vm, new JoinedFrame("zed"));
        Frame(vm, new JoinedFrame("bob"));
        Assert.Equal(["alice", "bob", "zed"], vm.Users);
        Frame(vm, new LeftFrame("zed", LeaveReasons.Timeout));
        Assert.Equal(["alice", "bob"], vm.Users);
        Assert.Equal("zed left (timed out)", vm.Log[^1].Text);
        Frame(vm, new UsersFrame(["alice", "bob", "carol"]));
        Assert.Equal(["alice", "bob", "carol"], vm.Users);
        Assert.Equal(4, changes);

        Assert.Contains(vm.VisibleLines(), l => l.Kind == LineKind.Join);
        vm.ToggleJoinsAndLeaves();
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Kind is LineKind.Join or LineKind.Leave);
        Assert.Equal(["alice", "bob", "carol"], vm.Users);
    }

    [Fact]
    public void A_refused_name_is_remembered_for_the_connect_form_and_closes_the_session()
    {
        var vm = NewViewModel();
        vm.BeginConnect("h:1");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 1)));
        var reactions = Frame(vm, new ErrorFrame(ErrorCodes.UsernameTaken, "the name \"alice\" is taken; choose another"));
        Assert.Equal([CloseSession.Instance], reactions);
        Assert.Equal("the name \"alice\" is taken; choose another", vm.LastProblem);
        Assert.Equal(ConnectionState.Disconnected, vm.State);
        Assert.Empty(vm.Apply(new SessionDisconnected("you quit"))); // the closed session's last word changes nothing
        Assert.Equal("the name \"alice\" is taken; choose another", vm.LastProblem);
    }

    [Theory]
    [InlineData(ErrorCodes.NameRegistered, ConnectField.Password)]
    [InlineData(ErrorCodes.WrongPassword, ConnectField.Password)]
    [InlineData(ErrorCodes.UsernameTaken, ConnectField.Username)]
    [InlineData(ErrorCodes.ConnectionLimit, null)]
    public void A_refusal_names_the_field_of_the_connect_form_to_fix(string code, ConnectField? field)
    {
        var vm = NewViewModel();
        vm.BeginConnect("h:1");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 1)));
        Frame(vm, new ErrorFrame(code, "refused"));
        Assert.Equal(field, vm.FieldToFix);
        vm.BeginConnect("h:1");
        Assert.Null(vm.FieldToFix); // a new attempt starts clean
    }

    [Fact]
    public void The_file_port_refusing_the_hello_is_said_to_be_no_chat_server()
    {
        var vm = NewViewModel();
        vm.BeginConnect("127.0.0.1:7401");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 7401)));
        Assert.Equal([CloseSession.Instance], Frame(vm, new ErrorFrame(ErrorCodes.BadRequest, "missing \"ticket\"")));
        Assert.StartsWith("127.0.0.1:7401 is not a Messenger chat server", vm.LastProblem);
        Assert.Contains("file port", vm.LastProblem);
    }

    [Fact]
    public void A_peer_that_is_no_chat_server_is_said_in_plain_words()
    {
        var vm = NewViewModel();
        vm.BeginConnect("127.0.0.1:80");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 80)));
        var reactions = Frame(vm, new ErrorFrame(ChatSessionActor.UnreadableFrameCode, "'H' is an invalid start of a value. LineNumber: 0"));
        Assert.Equal([CloseSession.Instance], reactions);
        Assert.Equal("127.0.0.1:80 is not a Messenger server (it answered with something other than chat frames)", vm.LastProblem);
        Assert.DoesNotContain("LineNumber", vm.LastProblem);
    }

    [Fact]
    public void Losing_the_server_is_said_once_without_the_flood_of_leaves_and_a_reconnect_is_planned_with_back_off()
    {
        var vm = LoggedIn("bob", "carol");
        Frame(vm, new MessageFrame("bob", "earlier", 1));
        _now += TimeSpan.FromSeconds(10);
        Frame(vm, new LeftFrame("bob", LeaveReasons.Disconnected));
        Frame(vm, new LeftFrame("carol", LeaveReasons.Disconnected));
        _now += TimeSpan.FromMilliseconds(300);
        var reactions = vm.Apply(new SessionDisconnected("the server closed the connection"));

        Assert.Equal([new ReconnectLater(TimeSpan.FromSeconds(1))], reactions);
        Assert.DoesNotContain(vm.Log, l => l.Kind == LineKind.Leave);
        Assert.Single(vm.Log, l => l.Text.Contains("connection lost"));
        Assert.Contains("the server closed the connection", vm.Log[^1].Text);
        Assert.Equal(ConnectionState.Disconnected, vm.State);
        Assert.Empty(vm.Users);
        Assert.Equal("alice", vm.Me); // kept, for reconnecting under the same name

        // Each failed try waits twice as long, up to 30 s; a welcome starts over.
        var delays = new List<TimeSpan>();
        for (int i = 0; i < 7; i++)
        {
            vm.BeginConnect("127.0.0.1:7400");
            delays.Add(Assert.IsType<ReconnectLater>(Assert.Single(vm.Apply(new SessionConnectFailed("refused")))).Delay);
        }
        Assert.Equal(new[] { 2, 4, 8, 16, 30, 30, 30 }.Select(s => TimeSpan.FromSeconds(s)), delays);
        LoggedIn(vm);
        Assert.Equal([new ReconnectLater(TimeSpan.FromSeconds(1))], vm.Apply(new SessionDisconnected("gone")));
    }

    [Fact]
    public void Failed_retries_are_said_once_and_then_only_in_the_status_bar_and_a_shutdown_is_part_of_the_one_loss_line()
    {
        var vm = LoggedIn("bob");
        Frame(vm, new ErrorFrame(ErrorCodes.ServerShutdown, "the server is shutting down"));
        vm.Apply(new SessionDisconnected("the server closed the connection"));
        var loss = Assert.Single(vm.Log, l => l.Kind == LineKind.Error);
        Assert.Contains("connection lost: the server is shutting down (server_shutdown)", loss.Text);
        Assert.Null(loss.Conversation); // in the lobby

        int before = vm.Log.Count;
        for (int i = 0; i < 10; i++)
        {
            vm.BeginConnect("127.0.0.1:7400");
            vm.Apply(new SessionConnectFailed("cannot connect to 127.0.0.1:7400: connection refused (is the server running?)"));
        }
        var retry = Assert.Single(vm.Log.Skip(before));
        Assert.StartsWith("reconnect failed: cannot connect", retry.Text);
        Assert.Equal("OFFLINE, retry in 30 s", vm.ShortState);
        Assert.EndsWith("· retry 11 in 30 s", vm.StatusText);

        // A new reason is said once too; after the next welcome, a loss is said again.
        vm.BeginConnect("127.0.0.1:7400");
        vm.Apply(new SessionConnectFailed("cannot connect to 127.0.0.1:7400: timed out"));
        vm.BeginConnect("127.0.0.1:7400");
        vm.Apply(new SessionConnectFailed("cannot connect to 127.0.0.1:7400: timed out"));
        Assert.Equal(2, vm.Log.Skip(before).Count());
        LoggedIn(vm);
        Assert.Equal("online (1)", vm.ShortState);
        vm.Apply(new SessionDisconnected("the server closed the connection"));
        Assert.Contains("connection lost: the server closed the connection", vm.Log[^1].Text);
    }

    [Fact]
    public void A_message_the_server_could_not_store_is_marked_not_sent_in_its_room()
    {
        var vm = LoggedIn("bob");
        vm.Submit("/join rust");
        Frame(vm, new JoinedFrame("alice", "rust", ["alice", "bob"]));
        vm.Submit("lost words");
        vm.SwitchTo(null);
        Frame(vm, new ErrorFrame(ErrorCodes.NotStored, "the message could not be stored; send it again"));
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Kind == LineKind.Error);
        vm.SwitchTo("#rust");
        var lines = vm.VisibleLines().ToList();
        Assert.Equal((Delivery.Refused, "lost words  (NOT SENT)"), (lines[^2].Delivery, lines[^2].Body));
        Assert.Contains("not_stored", lines[^1].Text);
    }

    [Fact]
    public void An_idle_timeout_is_the_reason_of_the_one_loss_line()
    {
        var vm = LoggedIn();
        Frame(vm, new ErrorFrame(ErrorCodes.IdleTimeout, "nothing received for 60 s"));
        vm.Apply(new SessionDisconnected("the server closed the connection"));
        Assert.Contains("connection lost: nothing received for 60 s (idle_timeout)", Assert.Single(vm.Log, l => l.Kind == LineKind.Error).Text);
    }

    [Fact]
    public void A_refused_certificate_stops_the_retries_with_a_clear_message()
    {
        var vm = LoggedIn();
        vm.Apply(new SessionDisconnected("the server closed the connection"));
        vm.BeginConnect("127.0.0.1:7400");
        var reactions = vm.Apply(new SessionConnectFailed("cannot connect to 127.0.0.1:7400: the server's certificate has SHA-256 fingerprint 3bb2, not the pinned ed80", Permanent: true));
        Assert.Empty(reactions); // no ReconnectLater
        Assert.False(vm.AutoReconnect);
        Assert.Equal("OFFLINE", vm.ShortState);
        Assert.Contains("reconnecting stopped", vm.Log[^1].Text);
        Assert.Contains("not the pinned ed80", vm.Log[^1].Text);
        Assert.Contains("F5", vm.Log[^1].Text);
    }

    [Fact]
    public void Command_output_and_notes_stay_in_the_buffer_the_command_was_typed_in()
    {
        var vm = LoggedIn("bob");
        vm.Submit("/join rust");
        Assert.Equal(("joining #rust…", null), (vm.Log[^1].Text, vm.Log[^1].Conversation)); // said in the lobby, where it was typed
        Frame(vm, new JoinedFrame("alice", "rust", ["alice", "bob"]));
        Assert.Equal("#rust", vm.Current);
        Frame(vm, new HistoryFrame("rust", [], false));

        // /who typed in #rust: the answer is in #rust only.
        vm.Submit("/who");
        Frame(vm, new UsersFrame(["alice", "bob"]));
        Assert.Contains(vm.VisibleLines(), l => l.Text.StartsWith("online (2)"));
        // /help and a bad command in bob's conversation: there only.
        vm.OpenConversation("bob");
        vm.Submit("/help");
        vm.Submit("/nonsense");
        Assert.Contains(vm.VisibleLines(), l => l.Text.StartsWith("commands:"));
        Assert.Contains(vm.VisibleLines(), l => l.Kind == LineKind.Error && l.Text.Contains("/nonsense"));
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Text.StartsWith("online (2)"));
        // An error answering a command typed in #rust goes to #rust, even when shown after a switch.
        vm.SwitchTo("#rust");
        vm.Submit("/rooms");
        vm.SwitchTo(null);
        Frame(vm, new ErrorFrame(ErrorCodes.RateLimited, "slow down"));
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Text.Contains("slow down"));
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Text.StartsWith("commands:") || l.Text.StartsWith("online (2)"));
        vm.SwitchTo("#rust");
        Assert.Contains(vm.VisibleLines(), l => l.Text.Contains("slow down"));
        // A connection loss is said in the lobby only.
        vm.Apply(new SessionDisconnected("gone"));
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Text.Contains("connection lost"));
        vm.SwitchTo(null);
        Assert.Contains(vm.VisibleLines(), l => l.Text.Contains("connection lost"));
    }

    [Fact]
    public void A_leave_well_before_the_connection_drops_stays()
    {
        var vm = LoggedIn("bob");
        Frame(vm, new LeftFrame("bob", LeaveReasons.Quit));
        _now += TimeSpan.FromSeconds(30);
        vm.Apply(new SessionDisconnected("gone"));
        Assert.Single(vm.Log, l => l.Kind == LineKind.Leave);
    }

    [Fact]
    public void Without_auto_reconnect_the_loss_points_at_F5()
    {
        var vm = LoggedIn();
        vm.AutoReconnect = false;
        Assert.Empty(vm.Apply(new SessionDisconnected("gone")));
        Assert.Contains("Press F5", vm.Log[^1].Text);
    }

    [Fact]
    public void Connect_failure_is_the_last_problem()
    {
        var vm = NewViewModel();
        vm.BeginConnect("h:1");
        Assert.Equal(ConnectionState.Connecting, vm.State);
        Assert.Empty(vm.Apply(new SessionConnectFailed("cannot connect to h:1: refused")));
        Assert.Equal(ConnectionState.Disconnected, vm.State);
        Assert.Equal("cannot connect to h:1: refused", vm.LastProblem);
    }

    [Fact]
    public void A_ticket_through_the_one_apply_starts_the_download_and_reports_progress_to_verified()
    {
        var vm = LoggedIn();
        var outcome = vm.Submit("/get big.bin udp");
        Assert.Equal([new GetCommand("big.bin", TransferVia.Udp)], outcome.Send);
        var item = Assert.Single(vm.Downloads);
        Assert.Equal(DownloadStatus.AwaitingTicket, item.Status);

        var ticket = new TicketFrame("big.bin", TransferVia.Udp, "t1", 4_000_000, "ab", 7402);
        var start = Assert.IsType<StartDownload>(Assert.Single(Frame(vm, ticket)));
        Assert.Same(item, start.Item);
        Assert.Same(ticket, start.Ticket);
        Assert.Equal(DownloadStatus.Running, item.Status);

        vm.ReportProgress(item.Id, new DownloadProgress("big.bin", 1_000_000, 4_000_000, 1_000_000, TimeSpan.FromSeconds(1), Retransmits: 7, Window: 64));
        Assert.Equal(0.25f, item.Fraction);
        Assert.Equal(TimeSpan.FromSeconds(3), item.Eta);
        Assert.Contains("25% 1.0 MB/4.0 MB 1.0 MB/s", item.Describe());
        Assert.Contains("ETA 0:03", item.Describe());
        Assert.Equal("retransmits 7 · window 64", item.Detail());

        vm.CompleteDownload(item.Id, new DownloadResult("big.bin", "/d/big.bin", 4_000_000, TimeSpan.FromSeconds(2), true, "abcdef0123456789", Retransmits: 9));
        Assert.Equal(DownloadStatus.Verified, item.Status);
        Assert.Equal(1f, item.Fraction);
        Assert.Contains("100%", item.Describe());
        Assert.Equal("SHA-256 verified abcdef0123456789… · retransmits 9", item.Detail());
        Assert.Contains("SHA-256 verified", vm.Log[^1].Text);
        Assert.Contains("(2.0 MB/s)", vm.Log[^1].Text);
    }

    [Fact]
    public void A_small_file_shows_a_real_rate_not_zero()
    {
        var vm = LoggedIn();
        vm.Submit("/get tiny.txt");
        var start = (StartDownload)Frame(vm, new TicketFrame("tiny.txt", TransferVia.Tcp, "t", 3, "x", 1))[0];
        vm.CompleteDownload(start.Item.Id, new DownloadResult("tiny.txt", "p", 1_234, TimeSpan.FromMilliseconds(50), true, "x"));
        Assert.Contains("(24.7 kB/s)", vm.Log[^1].Text);
        Assert.Equal("1.5 MB", Units.Size(1_500_000)); // one unit system: decimal everywhere
    }

    [Fact]
    public void A_missing_file_is_reported_once()
    {
        var vm = LoggedIn();
        vm.Submit("/get nothere.txt");
        int before = vm.Log.Count;
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchFile, "no file named \"nothere.txt\" is offered"));
        Assert.Equal(before + 1, vm.Log.Count);
        Assert.Contains("nothere.txt", vm.Log[^1].Text);
        Assert.Equal(DownloadStatus.Failed, vm.Downloads[0].Status);
    }

    [Fact]
    public void A_file_already_downloaded_is_replaced_only_after_a_second_enter()
    {
        var vm = LoggedIn(NewViewModel(alreadyDownloaded: f => f == "have.bin"));
        var first = vm.Submit("/get have.bin");
        Assert.False(first.ClearInput);
        Assert.Empty(first.Send);
        Assert.Contains("already in the downloads folder", vm.Log[^1].Text);
        Assert.Equal([new GetCommand("have.bin", TransferVia.Tcp)], vm.Submit("/get have.bin").Send);
        Assert.Single(vm.Submit("/get other.bin").Send);
    }

    [Fact]
    public void Several_downloads_at_once_are_tracked_apart_cancelled_and_cleared()
    {
        var vm = LoggedIn();
        var a = vm.RequestDownload("a.bin", TransferVia.Tcp);
        var b = vm.RequestDownload("b.bin", TransferVia.Tcp);
        var c = vm.RequestDownload("c.bin", TransferVia.Tcp);
        Frame(vm, new TicketFrame("b.bin", TransferVia.Tcp, "t", 10, "x", 1));
        Frame(vm, new TicketFrame("c.bin", TransferVia.Tcp, "t", 10, "x", 1));
        Assert.Equal(DownloadStatus.AwaitingTicket, a.Status);
        Frame(vm, new ErrorFrame(ErrorCodes.NoSuchFile, "no file named \"a.bin\" is offered"));
        Assert.Equal(DownloadStatus.Failed, a.Status);
        Assert.Contains("FAILED", a.Describe());
        Assert.True(vm.HasActiveDownloads);

        Assert.True(vm.CancelDownload(b.Id));
        Assert.False(vm.CancelDownload(b.Id));
        Assert.Equal(DownloadStatus.Cancelled, b.Status);
        vm.CompleteDownload(b.Id, new DownloadResult("b.bin", "p", 10, TimeSpan.FromSeconds(1), true, "y")); // too late: stays cancelled
        Assert.Equal(DownloadStatus.Cancelled, b.Status);

        vm.ClearFinishedDownloads();
        Assert.Equal([c], vm.Downloads);
        vm.CompleteDownload(c.Id, new DownloadResult("c.bin", "p", 10, TimeSpan.FromSeconds(1), false, "y", Error: "SHA-256 mismatch"));
        Assert.False(vm.HasActiveDownloads);
    }

    [Fact]
    public void The_files_view_asks_quietly_but_files_lists_in_the_chat()
    {
        var vm = LoggedIn();
        int lines = vm.Log.Count;
        vm.RequestFilesQuietly();
        Frame(vm, new FilesFrame([new FileEntry("a.bin", 2048, "x"), new FileEntry("b.txt", 10, "y")]));
        Assert.Equal(["a.bin", "b.txt"], vm.Files.Select(f => f.Name));
        Assert.Equal(lines, vm.Log.Count);
        Frame(vm, new FilesFrame([new FileEntry("a.bin", 2048, "x")]));
        Assert.Contains("a.bin (2.0 kB)", vm.Log[^1].Text);
    }

    [Fact]
    public void Tab_after_get_fetches_the_file_list_quietly_once_when_it_was_never_fetched()
    {
        var vm = NewViewModel();
        Assert.Empty(vm.FilesForCompletion("/get gr", 7)); // not online
        LoggedIn(vm);
        Assert.Empty(vm.FilesForCompletion("hello gr", 8)); // not a file name
        Assert.Equal([FilesCommand.Instance], vm.FilesForCompletion("/get gr", 7));
        Assert.Empty(vm.FilesForCompletion("/get gr", 7)); // asked already
        int lines = vm.Log.Count;
        Frame(vm, new FilesFrame([new FileEntry("gradient.png", 2048, "x")]));
        Assert.Equal(lines, vm.Log.Count); // no line in the chat
        Assert.Equal("/get gradient.png ", vm.Completer.Complete("/get gr", 7, [], vm.Files.Select(f => f.Name))!.Value.Text);

        var listed = LoggedIn(NewViewModel());
        Frame(listed, new FilesFrame([new FileEntry("a.bin", 1, "x")]));
        Assert.Empty(listed.FilesForCompletion("/get zz", 7)); // the list is known: zz is just not on it
    }

    [Fact]
    public void Help_shows_commands_and_keys()
    {
        var vm = LoggedIn();
        Assert.True(vm.Submit("/help").ClearInput);
        Assert.Equal(HelpText.Commands, vm.Log[^2].Text);
        Assert.Equal(HelpText.Keys, vm.Log[^1].Text);
    }

    [Fact]
    public void Sent_lines_go_to_the_history()
    {
        var vm = LoggedIn();
        vm.Submit("one");
        vm.Submit("/pm b@d x"); // refused: not remembered
        vm.Submit("two");
        Assert.Equal(["one", "two"], vm.History.Lines);
    }

    [Fact]
    public void The_scrollback_is_bounded()
    {
        var vm = LoggedIn();
        for (int i = 0; i < ChatViewModel.MaxLogLines + 10; i++) Frame(vm, new MessageFrame("bob", $"m{i}", i));
        Assert.Equal(ChatViewModel.MaxLogLines, vm.Log.Count);
        Assert.Equal($"m{ChatViewModel.MaxLogLines + 9}", vm.Log[^1].Text);
    }

    [Fact]
    public void A_user_keeps_one_colour()
    {
        Assert.Equal(UserColors.Index("bob", 8), UserColors.Index("BOB", 8));
        Assert.InRange(UserColors.Index("carol", 8), 0, 7);
        Assert.True(new[] { "alice", "bob", "carol", "dave", "erin" }.Select(u => UserColors.Index(u, 8)).Distinct().Count() > 1);
    }

    // ------------------------------------------------------------------ rooms, history, accounts

    private static HistoryEntry Entry(long id, string from = "bob") => new(id, from, $"m{id}", 1_000 * id);

    private static ChatViewModel InRust(ChatViewModel vm)
    {
        Assert.Equal([new JoinCommand("rust")], vm.Submit("/join #rust").Send);
        Frame(vm, new JoinedFrame("alice", "rust", ["alice", "bob"]));
        return vm;
    }

    private static string[] Texts(ChatViewModel vm) =>
        vm.VisibleLines().Where(l => l.Kind is LineKind.Own or LineKind.Other).Select(l => l.Text).ToArray();

    [Fact]
    public void The_welcome_asks_for_the_lobbys_recent_history_and_shows_it_once_in_id_order()
    {
        var vm = NewViewModel();
        vm.BeginConnect("127.0.0.1:7400");
        var reactions = vm.Apply(new SessionFrameReceived(new WelcomeFrame("alice", ["alice", "bob"])));
        Assert.Equal([new HistoryCommand(RoomNames.Lobby, null, ChatViewModel.HistoryPage)], Assert.Single(reactions.OfType<SendCommands>()).Commands);
        // A live message overtakes the history answer that also holds it.
        Frame(vm, new MessageFrame("bob", "m3", 3_000, RoomNames.Lobby, 3));
        Frame(vm, new HistoryFrame(RoomNames.Lobby, [Entry(2), Entry(3)], More: true));
        Assert.Equal(["m2", "m3"], Texts(vm));
    }

    [Fact]
    public void Joining_a_room_opens_its_buffer_with_its_members_and_history_and_chat_there_goes_to_the_room()
    {
        var vm = InRust(LoggedIn("bob", "carol"));
        Assert.Equal("#rust", vm.Current);
        Assert.Equal("rust", vm.CurrentRoom);
        Assert.Equal(["lobby", "rust"], vm.JoinedRooms);
        Assert.Equal(["alice", "bob"], vm.UsersShown);
        Assert.Equal("lobby [#rust]", vm.ConversationBar());
        Frame(vm, new HistoryFrame("rust", [Entry(1), Entry(2)], More: false));
        Assert.Equal(["m1", "m2"], Texts(vm));
        Assert.Contains(vm.VisibleLines(), l => l.Text.Contains("start of #rust"));

        var sent = vm.Submit("hello rust");
        Assert.Equal([new SayCommand("hello rust", "rust")], sent.Send);
        Assert.Equal(Delivery.Pending, vm.VisibleLines().Last().Delivery);
        Frame(vm, new MessageFrame("alice", "hello rust", 3_000, "rust", 3));
        Assert.Equal(Delivery.Delivered, vm.VisibleLines().Last().Delivery);

        // The lobby's chat stays in the lobby, counted as unread meanwhile.
        Frame(vm, new MessageFrame("carol", "in the lobby", 4_000, RoomNames.Lobby, 9));
        Assert.DoesNotContain("in the lobby", Texts(vm));
        Assert.Equal("lobby(1) [#rust]", vm.ConversationBar());
        vm.SwitchTo(null);
        Assert.Equal(["in the lobby"], Texts(vm));
        Assert.Equal([new SayCommand("back here")], vm.Submit("back here").Send);
    }

    [Fact]
    public void Others_joining_and_leaving_a_room_show_in_that_room_and_change_its_members()
    {
        var vm = InRust(LoggedIn("bob", "carol"));
        Frame(vm, new JoinedFrame("carol", "rust"));
        Assert.Equal(["alice", "bob", "carol"], vm.UsersShown);
        Frame(vm, new LeftFrame("bob", LeaveReasons.Part, "rust"));
        Assert.Equal(["alice", "carol"], vm.UsersShown);
        Assert.Equal(["carol joined #rust", "bob left #rust (part)"],
            vm.VisibleLines().Where(l => l.Kind is LineKind.Join or LineKind.Leave).Select(l => l.Text));
        vm.SwitchTo(null);
        Assert.DoesNotContain(vm.VisibleLines(), l => l.Kind is LineKind.Join or LineKind.Leave);
        Assert.Equal(3, vm.UsersShown.Count); // everyone online in the lobby
    }

    [Fact]
    public void Scrolling_past_the_top_asks_for_the_page_before_the_oldest_message_once_until_the_start()
    {
        var vm = InRust(LoggedIn("bob"));
        Frame(vm, new HistoryFrame("rust", [Entry(11), Entry(12)], More: true));
        Assert.Equal([new HistoryCommand("rust", 11, ChatViewModel.HistoryPage)], vm.LoadOlderHistory());
        Assert.Empty(vm.LoadOlderHistory()); // one page at a time
        Frame(vm, new HistoryFrame("rust", [Entry(9), Entry(10)], More: true));
        Assert.Equal(["m9", "m10", "m11", "m12"], Texts(vm));
        Assert.Equal([new HistoryCommand("rust", 9, ChatViewModel.HistoryPage)], vm.LoadOlderHistory());
        Frame(vm, new HistoryFrame("rust", [Entry(8)], More: false));
        Assert.Equal(["m8", "m9", "m10", "m11", "m12"], Texts(vm));
        Assert.Empty(vm.LoadOlderHistory()); // the start is shown
        vm.OpenConversation("bob");
        Assert.Empty(vm.LoadOlderHistory()); // a private conversation has no history
    }

    [Fact]
    public void A_failed_history_request_may_be_asked_again()
    {
        var vm = InRust(LoggedIn("bob"));
        Frame(vm, new HistoryFrame("rust", [Entry(5)], More: true));
        Assert.Single(vm.LoadOlderHistory());
        Frame(vm, new ErrorFrame(ErrorCodes.BadRequest, "history is not available right now; try again"));
        Assert.Single(vm.LoadOlderHistory());
    }

    [Fact]
    public void Part_leaves_the_room_shown_and_closes_its_buffer_but_the_lobby_cannot_be_left()
    {
        var vm = InRust(LoggedIn("bob"));
        Assert.Equal([new PartCommand("rust")], vm.Submit("/part").Send);
        Frame(vm, new LeftFrame("alice", LeaveReasons.Part, "rust"));
        Assert.Null(vm.Current);
        Assert.Empty(vm.Conversations);
        Assert.Equal(["lobby"], vm.JoinedRooms);
        Assert.Contains("you left #rust", vm.Log[^1].Text);

        Assert.Empty(vm.Submit("/part").Send);
        Assert.Contains("everyone stays in the lobby", vm.Log[^1].Text);
        vm.OpenConversation("bob");
        Assert.Empty(vm.Submit("/part").Send);
        Assert.Contains("private conversation", vm.Log[^1].Text);
    }

    [Fact]
    public void After_a_reconnect_the_rooms_that_were_open_are_joined_again_without_switching_to_them()
    {
        var vm = InRust(LoggedIn("bob"));
        vm.SwitchTo(null);
        vm.Apply(new SessionDisconnected("the connection was reset"));
        Assert.Equal(["lobby"], vm.JoinedRooms);
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 7400)));
        var again = vm.Apply(new SessionFrameReceived(new WelcomeFrame("alice", ["alice"])));
        Assert.Equal([new HistoryCommand(RoomNames.Lobby, null, ChatViewModel.HistoryPage), new JoinCommand("rust")],
            Assert.Single(again.OfType<SendCommands>()).Commands);
        Frame(vm, new JoinedFrame("alice", "rust", ["alice"]));
        Assert.Null(vm.Current);
        Assert.Equal(["lobby", "rust"], vm.JoinedRooms);
    }

    [Fact]
    public void Rooms_lists_the_servers_rooms()
    {
        var vm = LoggedIn("bob");
        Assert.Equal([RoomsCommand.Instance], vm.Submit("/rooms").Send);
        Frame(vm, new RoomsFrame([new RoomEntry("lobby", 2), new RoomEntry("rust", 1)]));
        Assert.Equal(2, vm.ServerRooms.Count);
        Assert.Equal("rooms: lobby (2), #rust (1) · /join ROOM", vm.Log[^1].Text); // the lobby without '#': it cannot be joined

        vm.Submit("/join rust");
        Frame(vm, new JoinedFrame("alice", "rust", ["alice"]));
        Assert.Equal("you are in #rust, alone for now", vm.Log[^1].Text);
        vm.Submit("/join ops");
        Frame(vm, new JoinedFrame("alice", "ops", ["bob", "alice"]));
        Assert.Equal("you are in #ops with bob", vm.Log[^1].Text);
        Assert.Equal("not connected", NewViewModel().ShortState); // before the first try, not "OFFLINE"
    }

    [Fact]
    public void Register_keeps_the_password_for_reconnecting_and_out_of_the_input_history()
    {
        var vm = LoggedIn("bob");
        Assert.Null(vm.Password);
        Assert.Equal([new RegisterCommand(new Password("correct-horse"))], vm.Submit("/register correct-horse").Send);
        Assert.Null(vm.History.Older(""));
        Frame(vm, new RegisteredFrame("alice"));
        Assert.Equal(new Password("correct-horse"), vm.Password);
        Assert.Contains("registered", vm.Log[^1].Text);

        vm.Submit("/passwd correct-horse battery-staple");
        Frame(vm, new ErrorFrame(ErrorCodes.WrongPassword, "wrong password"));
        Assert.Equal(new Password("correct-horse"), vm.Password);
        vm.Submit("/passwd correct-horse battery-staple");
        Frame(vm, PasswordChangedFrame.Instance);
        Assert.Equal(new Password("battery-staple"), vm.Password);
    }
}
