using System.Net;
using Messenger.Client;
using Messenger.Protocol;
using Messenger.TerminalClient;

namespace Messenger.Tests.TerminalClient;

public class ChatViewModelTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static ChatViewModel LoggedIn(params string[] others)
    {
        var vm = new ChatViewModel(() => Now);
        vm.BeginConnect("127.0.0.1:7400");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 7400)));
        vm.Apply(new SessionFrameReceived(new WelcomeFrame("alice", ["alice", .. others])));
        return vm;
    }

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
    public void Own_and_others_messages_are_told_apart_and_keep_the_server_time()
    {
        var vm = LoggedIn("bob");
        long ts = new DateTimeOffset(2026, 5, 6, 7, 8, 9, TimeSpan.Zero).ToUnixTimeMilliseconds();
        vm.Apply(new MessageFrame("alice", "mine", ts));
        vm.Apply(new MessageFrame("bob", "theirs", ts));
        Assert.Equal(LineKind.Own, vm.Log[^2].Kind);
        Assert.Equal("<alice> mine", vm.Log[^2].Text);
        Assert.Equal(LineKind.Other, vm.Log[^1].Kind);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(ts), vm.Log[^1].Time);
        Assert.NotEqual(ChatLine.Prefix(LineKind.Own), ChatLine.Prefix(LineKind.Other));
        Assert.Contains("<bob> theirs", vm.Log[^1].Render());
    }

    [Fact]
    public void Private_messages_in_and_out()
    {
        var vm = LoggedIn("bob");
        vm.Apply(new PrivateMessageFrame("bob", "alice", "psst", 1));
        vm.Apply(new PrivateMessageFrame("alice", "bob", "yes?", 2));
        Assert.Equal(new[] { LineKind.PmIn, LineKind.PmOut }, vm.Log.TakeLast(2).Select(l => l.Kind));
        Assert.Equal("[pm from bob] psst", vm.Log[^2].Text);
        Assert.Equal("[pm to bob] yes?", vm.Log[^1].Text);
    }

    [Fact]
    public void Joins_and_leaves_keep_the_user_list_live()
    {
        var vm = LoggedIn();
        int changes = 0;
        vm.UsersChanged += () => changes++;
        vm.Apply(new JoinedFrame("zed"));
        vm.Apply(new JoinedFrame("bob"));
        Assert.Equal(["alice", "bob", "zed"], vm.Users);
        vm.Apply(new LeftFrame("zed", LeaveReasons.Timeout));
        Assert.Equal(["alice", "bob"], vm.Users);
        Assert.Equal(LineKind.Leave, vm.Log[^1].Kind);
        Assert.Equal("zed left (timed out)", vm.Log[^1].Text);
        vm.Apply(new UsersFrame(["alice", "bob", "carol"]));
        Assert.Equal(["alice", "bob", "carol"], vm.Users);
        Assert.Equal(4, changes);
        Assert.Equal(LineKind.Join, vm.Log.Single(l => l.Text == "bob joined").Kind);
    }

    [Fact]
    public void A_refused_name_is_remembered_for_the_connect_form()
    {
        var vm = new ChatViewModel(() => Now);
        vm.BeginConnect("h:1");
        vm.Apply(new SessionConnected(new IPEndPoint(IPAddress.Loopback, 1)));
        vm.Apply(new SessionFrameReceived(new ErrorFrame(ErrorCodes.UsernameTaken, "the name \"alice\" is taken; choose another")));
        Assert.Equal("the name \"alice\" is taken; choose another", vm.LastProblem);
        Assert.Equal(LineKind.Error, vm.Log[^1].Kind);
        vm.Apply(new SessionDisconnected("refused"));
        Assert.Equal(ConnectionState.Disconnected, vm.State);
    }

    [Fact]
    public void Losing_the_server_is_said_plainly_and_empties_the_user_list()
    {
        var vm = LoggedIn("bob");
        vm.Apply(new SessionDisconnected("the server closed the connection"));
        Assert.Equal(ConnectionState.Disconnected, vm.State);
        Assert.Empty(vm.Users);
        Assert.Equal(LineKind.Error, vm.Log[^1].Kind);
        Assert.Contains("the server closed the connection", vm.StatusText);
        Assert.Equal("alice", vm.Me); // kept, for reconnecting under the same name
    }

    [Fact]
    public void Connect_failure_is_the_last_problem()
    {
        var vm = new ChatViewModel(() => Now);
        vm.BeginConnect("h:1");
        Assert.Equal(ConnectionState.Connecting, vm.State);
        vm.Apply(new SessionConnectFailed("cannot connect to h:1: refused"));
        Assert.Equal(ConnectionState.Disconnected, vm.State);
        Assert.Equal("cannot connect to h:1: refused", vm.LastProblem);
    }

    [Fact]
    public void A_download_goes_from_ticket_to_progress_to_verified()
    {
        var vm = LoggedIn();
        var item = vm.RequestDownload("big.bin", TransferVia.Udp);
        Assert.Equal(DownloadStatus.AwaitingTicket, item.Status);

        var started = vm.Apply(new TicketFrame("big.bin", TransferVia.Udp, "t1", 4_000_000, "ab", 7402));
        Assert.NotNull(started);
        Assert.Same(item, started.Value.Item);
        Assert.Equal(DownloadStatus.Running, item.Status);

        vm.ReportProgress(item.Id, new DownloadProgress("big.bin", 1_000_000, 4_000_000, 1_000_000, TimeSpan.FromSeconds(1), Retransmits: 7, Window: 64));
        Assert.Equal(0.25f, item.Fraction);
        Assert.Equal(TimeSpan.FromSeconds(3), item.Eta);
        Assert.Contains("25%", item.Describe());
        Assert.Contains("ETA 0:03", item.Describe());
        Assert.Equal("retransmits 7 · window 64", item.Detail());

        vm.CompleteDownload(item.Id, new DownloadResult("big.bin", "/d/big.bin", 4_000_000, TimeSpan.FromSeconds(2), true, "abcdef0123456789", Retransmits: 9));
        Assert.Equal(DownloadStatus.Verified, item.Status);
        Assert.Equal(1f, item.Fraction);
        Assert.Contains("100%", item.Describe());
        Assert.Equal("SHA-256 verified abcdef0123456789… · retransmits 9", item.Detail());
        Assert.Contains("SHA-256 verified", vm.Log[^1].Text);
    }

    [Fact]
    public void Several_downloads_at_once_are_tracked_apart_and_a_refusal_fails_the_waiting_one()
    {
        var vm = LoggedIn();
        var a = vm.RequestDownload("a.bin", TransferVia.Tcp);
        var b = vm.RequestDownload("b.bin", TransferVia.Tcp);
        vm.Apply(new TicketFrame("b.bin", TransferVia.Tcp, "t", 10, "x", 1));
        Assert.Equal(DownloadStatus.AwaitingTicket, a.Status);
        Assert.Equal(DownloadStatus.Running, b.Status);
        vm.Apply(new ErrorFrame(ErrorCodes.NoSuchFile, "no file named \"a.bin\" is offered"));
        Assert.Equal(DownloadStatus.Failed, a.Status);
        Assert.Contains("FAILED", a.Describe());
        Assert.Contains("no file named", a.Detail());
        vm.CompleteDownload(b.Id, new DownloadResult("b.bin", "p", 10, TimeSpan.FromSeconds(1), false, "y", Error: "SHA-256 mismatch"));
        Assert.Equal(DownloadStatus.Failed, b.Status);
        Assert.Equal("SHA-256 mismatch", b.Error);
    }

    [Fact]
    public void Files_frame_fills_the_files_view()
    {
        var vm = LoggedIn();
        bool changed = false;
        vm.FilesChanged += () => changed = true;
        vm.Apply(new FilesFrame([new FileEntry("a.bin", 2048, "x"), new FileEntry("b.txt", 10, "y")]));
        Assert.True(changed);
        Assert.Equal(["a.bin", "b.txt"], vm.Files.Select(f => f.Name));
        Assert.Contains("a.bin (2.0 KiB)", vm.Log[^1].Text);
    }

    [Fact]
    public void The_scrollback_is_bounded()
    {
        var vm = LoggedIn();
        int trimmed = 0;
        vm.LinesTrimmed += n => trimmed += n;
        for (int i = 0; i < ChatViewModel.MaxLogLines + 10; i++) vm.Apply(new MessageFrame("bob", $"m{i}", i));
        Assert.Equal(ChatViewModel.MaxLogLines, vm.Log.Count);
        Assert.Equal(11, trimmed); // the welcome line and the ten oldest messages
        Assert.Equal($"<bob> m{ChatViewModel.MaxLogLines + 9}", vm.Log[^1].Text);
    }
}
