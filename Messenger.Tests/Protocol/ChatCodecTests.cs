using System.Text;
using Messenger.Protocol;

namespace Messenger.Tests.Protocol;

public class ChatCodecTests
{
    private static ParseResult<ClientCommand> Parse(string line) => ChatCodec.ParseCommand(Encoding.UTF8.GetBytes(line));

    private static void AssertError(string line, string code)
    {
        var result = Parse(line);
        Assert.Null(result.Value);
        Assert.NotNull(result.Error);
        Assert.Equal(code, result.Error!.Code);
        Assert.False(string.IsNullOrWhiteSpace(result.Error.Message));
    }

    public static TheoryData<ClientCommand> Commands() => new()
    {
        new HelloCommand("alice"), new SayCommand("hi \"there\" \n ünïcødé 🎉"), new PmCommand("bob", "psst"),
        WhoCommand.Instance, PingCommand.Instance, ByeCommand.Instance, FilesCommand.Instance,
        new FilesCommand(200, 50), new FilesCommand(0, 1),
        new GetCommand("song.mp3", TransferVia.Tcp), new GetCommand("song.mp3", TransferVia.Udp),
        new HelloCommand("alice", new Password("correct horse")), new SayCommand("hi", "rust"),
        new JoinCommand("rust"), new PartCommand("rust"), new HistoryCommand("rust", 42, 10), new HistoryCommand("rust", null, 200),
        RoomsCommand.Instance, new RegisterCommand(new Password("s3cret-pass")),
        new PasswdCommand(new Password("old-password"), new Password("new-password")),
    };

    [Theory, MemberData(nameof(Commands))]
    public void Every_client_command_round_trips(ClientCommand command)
    {
        var line = ChatCodec.EncodeCommand(command);
        Assert.Equal((byte)'\n', line[^1]);
        Assert.Equal(command, Parse(Encoding.UTF8.GetString(line, 0, line.Length - 1)).Value);
    }

    public static TheoryData<ServerFrame> Frames() => new()
    {
        new WelcomeFrame("alice", ["alice", "bob"]), new JoinedFrame("bob"), new LeftFrame("bob", LeaveReasons.Slow),
        new MessageFrame("alice", "hi 🎉", 1764000000000), new PrivateMessageFrame("alice", "bob", "psst", 1764000000001),
        new UsersFrame(["a", "b"]), PongFrame.Instance, new ErrorFrame(ErrorCodes.RateLimited, "slow down"),
        new FilesFrame([new FileEntry("a.txt", 3, new string('a', 64))]),
        new FilesFrame([new FileEntry("b.txt", 3, new string('a', 64))], 1, 5, 2),
        new TicketFrame("a.txt", TransferVia.Udp, new string('b', 32), 3, new string('c', 64), 7402),
        new FileHeaderFrame("a.txt", 3, 1, new string('d', 64)),
        new JoinedFrame("bob", "rust"), new JoinedFrame("bob", "rust", ["alice", "bob"]), new LeftFrame("bob", LeaveReasons.Part, "rust"),
        new MessageFrame("alice", "hi", 1764000000000, "rust", 7),
        new PrivateMessageFrame("alice", "bob", "later", 1764000000001, Queued: true),
        new PrivateMessageFrame("alice", "bob", "later", 1764000000001, Offline: true),
        new HistoryFrame("rust", [new HistoryEntry(6, "alice", "a", 1), new HistoryEntry(7, "bob", "b", 2)], true),
        new HistoryFrame("rust", [], false),
        new RoomsFrame([new RoomEntry("lobby", 3), new RoomEntry("rust", 1)]),
        new RegisteredFrame("alice"), PasswordChangedFrame.Instance,
    };

    [Theory, MemberData(nameof(Frames))]
    public void Every_server_frame_round_trips(ServerFrame frame)
    {
        var line = frame.Line;
        Assert.Equal((byte)'\n', line[^1]);
        Assert.Equal(1, line.Count(b => b == (byte)'\n'));
        var parsed = ChatCodec.ParseFrame(line.AsSpan(0, line.Length - 1)).Value!;
        Assert.Equal(frame.GetType(), parsed.GetType());
        Assert.Equal(Encoding.UTF8.GetString(line), Encoding.UTF8.GetString(parsed.Line));
    }

    [Fact]
    public void A_history_page_too_long_for_a_line_keeps_the_newest_messages_that_fit_and_says_more()
    {
        // 20 messages of the longest text, escaped characters included: ~100 KB together.
        var messages = Enumerable.Range(1, 20)
            .Select(i => new HistoryEntry(i, "alice", new string('"', 1_000) + new string('x', ProtocolLimits.MaxTextCodePoints - 1_000), i))
            .ToArray();
        var page = ChatCodec.FitHistory("rust", messages, more: false);

        Assert.True(page.Line.Length - 1 <= ProtocolLimits.MaxLineBytes);
        Assert.True(page.More);
        Assert.Equal(messages.TakeLast(page.Messages.Count), page.Messages); // the newest, oldest first
        var oneMore = new HistoryFrame("rust", messages.TakeLast(page.Messages.Count + 1).ToArray(), true);
        Assert.True(oneMore.Line.Length - 1 > ProtocolLimits.MaxLineBytes); // as many as fit
        var parsed = Assert.IsType<HistoryFrame>(ChatCodec.ParseFrame(page.Line.AsSpan(0, page.Line.Length - 1)).Value);
        Assert.Equal(page.Messages.Count, parsed.Messages.Count);

        // A page that fits is left as it is.
        var short_ = ChatCodec.FitHistory("rust", messages[..3], more: false);
        Assert.Equal(messages[..3], short_.Messages);
        Assert.False(short_.More);
    }

    [Fact]
    public void A_frame_batch_is_its_frames_lines_back_to_back()
    {
        MessageFrame[] messages = [new("alice", "one", 1, "rust", 1), new("bob", "two", 2, "rust", 2), new("alice", "three", 3, "rust", 3)];
        var text = Encoding.UTF8.GetString(new FrameBatch(messages).Line);
        Assert.Equal(string.Concat(messages.Select(m => Encoding.UTF8.GetString(m.Line))), text);
        var lines = text.Split('\n');
        Assert.Equal("", lines[^1]);
        Assert.Equal(messages, lines[..^1].Select(l => (MessageFrame)ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(l)).Value!));
    }

    [Fact]
    public void Encodes_exact_field_names()
    {
        Assert.Equal("{\"type\":\"msg\",\"from\":\"alice\",\"text\":\"hi\",\"ts\":1764000000000}\n",
            Encoding.UTF8.GetString(new MessageFrame("alice", "hi", 1764000000000).Line));
        Assert.Equal("{\"type\":\"welcome\",\"user\":\"alice\",\"users\":[\"alice\",\"bob\"]}\n",
            Encoding.UTF8.GetString(new WelcomeFrame("alice", ["alice", "bob"]).Line));
        Assert.Equal("{\"type\":\"left\",\"user\":\"alice\",\"reason\":\"quit\"}\n",
            Encoding.UTF8.GetString(new LeftFrame("alice", "quit").Line));
    }

    [Fact]
    public void Welcomes_sharing_one_online_list_encode_as_each_would_alone()
    {
        var online = System.Collections.Immutable.ImmutableSortedSet.Create(Usernames.Comparer, "bob", "Alice", "zoë \"z\"");
        var plain = new List<string>(online);
        foreach (var user in new[] { "Alice", "bob" })
            Assert.Equal(Encoding.UTF8.GetString(new WelcomeFrame(user, plain).Line), Encoding.UTF8.GetString(new WelcomeFrame(user, online).Line));
        Assert.Equal(Encoding.UTF8.GetString(new UsersFrame(plain).Line), Encoding.UTF8.GetString(new UsersFrame(online).Line));
        var empty = System.Collections.Immutable.ImmutableSortedSet.Create<string>(Usernames.Comparer);
        Assert.Equal("{\"type\":\"users\",\"users\":[]}\n", Encoding.UTF8.GetString(new UsersFrame(empty).Line));
    }

    [Fact]
    public void A_welcome_in_parts_is_its_line_and_the_welcomes_of_one_list_share_its_encoding()
    {
        var online = System.Collections.Immutable.ImmutableSortedSet.Create(Usernames.Comparer, "bob", "Alice", "zoë \"z\"");
        var alice = ChatCodec.EncodeWelcome(new WelcomeFrame("Alice", online));
        var bob = ChatCodec.EncodeWelcome(new WelcomeFrame("bob", online));
        Assert.Equal(new WelcomeFrame("Alice", online).Line, alice.SelectMany(part => part));
        Assert.Equal(new WelcomeFrame("bob", online).Line, bob.SelectMany(part => part));
        Assert.Same(alice[1], bob[1]);
        foreach (IReadOnlyList<string> users in new IReadOnlyList<string>[] { new List<string>(online), [], System.Collections.Immutable.ImmutableSortedSet.Create<string>() })
            Assert.Equal(new WelcomeFrame("Alice", users).Line, ChatCodec.EncodeWelcome(new WelcomeFrame("Alice", users)).SelectMany(part => part));
    }

    [Fact]
    public void A_plain_files_request_asks_for_the_first_page_and_the_answer_keeps_its_old_fields()
    {
        Assert.Equal(new FilesCommand(0, null), Parse("{\"type\":\"files\"}").Value);
        Assert.Equal(new FilesCommand(int.MaxValue, int.MaxValue), Parse("{\"type\":\"files\",\"offset\":99999999999,\"limit\":99999999999}").Value);
        Assert.Equal("{\"type\":\"files\",\"files\":[{\"name\":\"a\",\"size\":1,\"sha256\":\"x\"}],\"offset\":0,\"total\":3,\"next\":1}\n",
            Encoding.UTF8.GetString(new FilesFrame([new FileEntry("a", 1, "x")], 0, 3, 1).Line));
        var old = ChatCodec.ParseFrame("{\"type\":\"files\",\"files\":[]}"u8).Value;
        Assert.Equal((0, 0, (int?)null), (((FilesFrame)old!).Offset, ((FilesFrame)old).Total, ((FilesFrame)old).Next));
    }

    [Theory]
    [InlineData("{\"type\":\"files\",\"offset\":-1}")]
    [InlineData("{\"type\":\"files\",\"offset\":\"0\"}")]
    [InlineData("{\"type\":\"files\",\"offset\":1.5}")]
    [InlineData("{\"type\":\"files\",\"limit\":0}")]
    [InlineData("{\"type\":\"files\",\"limit\":null}")]
    public void Bad_paging_fields_are_bad_request(string line) => AssertError(line, ErrorCodes.BadRequest);

    [Fact]
    public void The_ticket_line_round_trips() =>
        Assert.Equal(new TicketRequest("ab", 5), ChatCodec.ParseTicketRequest(ChatCodec.EncodeTicketRequest(new TicketRequest("ab", 5))[..^1]).Value);

    [Theory]
    [InlineData("{garbage")]
    [InlineData("[1,2]")]
    [InlineData("\"hello\"")]
    [InlineData("{\"type\":\"say\",\"text\":\"a\"} {}")]
    [InlineData("{}")]
    [InlineData("{\"type\":7}")]
    [InlineData("{\"type\":\"dance\"}")]
    [InlineData("{\"type\":\"hello\"}")]
    [InlineData("{\"type\":\"hello\",\"user\":42}")]
    [InlineData("{\"type\":\"say\"}")]
    [InlineData("{\"type\":\"say\",\"text\":null}")]
    [InlineData("{\"type\":\"say\",\"text\":\"\"}")]
    [InlineData("{\"type\":\"pm\",\"text\":\"x\"}")]
    [InlineData("{\"type\":\"pm\",\"to\":\"bob\"}")]
    [InlineData("{\"type\":\"get\",\"file\":\"a\"}")]
    [InlineData("{\"type\":\"get\",\"file\":\"a\",\"via\":\"carrier-pigeon\"}")]
    [InlineData("{\"type\":\"say\",\"text\":\"\\ud800\"}")]
    [InlineData("{\"type\":\"say\",\"text\":\"a\",\"room\":5}")]
    [InlineData("{\"type\":\"join\"}")]
    [InlineData("{\"type\":\"history\",\"room\":\"r\",\"limit\":201}")]
    [InlineData("{\"type\":\"history\",\"room\":\"r\",\"limit\":0}")]
    [InlineData("{\"type\":\"history\",\"room\":\"r\",\"limit\":1.5}")]
    [InlineData("{\"type\":\"history\",\"room\":\"r\",\"before\":0}")]
    [InlineData("{\"type\":\"history\",\"room\":\"r\",\"before\":99999999999999999999}")]
    [InlineData("{\"type\":\"register\"}")]
    [InlineData("{\"type\":\"passwd\",\"old\":\"12345678\"}")]
    [InlineData("{\"type\":\"hello\",\"user\":\"a\",\"password\":7}")]
    public void Malformed_or_mistyped_frames_are_bad_request(string line) => AssertError(line, ErrorCodes.BadRequest);

    [Theory]
    [InlineData("{\"type\":\"join\",\"room\":\"\"}")]
    [InlineData("{\"type\":\"join\",\"room\":\"#\"}")]
    [InlineData("{\"type\":\"join\",\"room\":\"two words\"}")]
    [InlineData("{\"type\":\"part\",\"room\":\"##x\"}")]
    [InlineData("{\"type\":\"say\",\"room\":\"a/b\",\"text\":\"x\"}")]
    [InlineData("{\"type\":\"history\",\"room\":\"abcdefghijklmnopqrstuvwxyz0123456\"}")]
    public void Invalid_room_names_are_bad_room(string line) => AssertError(line, ErrorCodes.BadRoom);

    [Theory]
    [InlineData("{\"type\":\"register\",\"password\":\"short\"}")]
    [InlineData("{\"type\":\"hello\",\"user\":\"a\",\"password\":\"\"}")]
    [InlineData("{\"type\":\"passwd\",\"old\":\"12345678\",\"new\":\"1234567\"}")]
    public void Passwords_outside_8_to_128_characters_are_bad_password(string line) => AssertError(line, ErrorCodes.BadPassword);

    [Fact]
    public void Room_names_drop_a_leading_hash_and_fold_case()
    {
        Assert.Equal(new JoinCommand("rust"), Parse("{\"type\":\"join\",\"room\":\"#Rust\"}").Value);
        Assert.Equal(new HistoryCommand("lobby", null, ProtocolLimits.DefaultHistoryLimit), Parse("{\"type\":\"history\",\"room\":\"LOBBY\"}").Value);
    }

    [Fact]
    public void A_password_never_shows_in_a_commands_text()
    {
        var hello = Parse("{\"type\":\"hello\",\"user\":\"alice\",\"password\":\"hunter2hunter2\"}").Value!;
        Assert.DoesNotContain("hunter2", hello.ToString());
        Assert.DoesNotContain("hunter2", new PasswdCommand(new Password("hunter2hunter2"), new Password("hunter3hunter3")).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("ünïcode")]
    [InlineData("a/b")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456")]
    public void Invalid_usernames_are_bad_username(string user) =>
        AssertError($"{{\"type\":\"hello\",\"user\":\"{user}\"}}", ErrorCodes.BadUsername);

    [Theory]
    [InlineData("a")]
    [InlineData("Alice_the-2nd.x")]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345")]
    public void Valid_usernames_are_accepted(string user) =>
        Assert.Equal(new HelloCommand(user), Parse($"{{\"type\":\"hello\",\"user\":\"{user}\"}}").Value);

    [Fact]
    public void Text_length_counts_code_points()
    {
        var emoji = string.Concat(Enumerable.Repeat("🎉", 4096)); // 8,192 UTF-16 units, 4,096 code points
        Assert.IsType<SayCommand>(Parse($"{{\"type\":\"say\",\"text\":\"{emoji}\"}}").Value);
        AssertError($"{{\"type\":\"say\",\"text\":\"{emoji}x\"}}", ErrorCodes.TextTooLong);
        AssertError($"{{\"type\":\"pm\",\"to\":\"b\",\"text\":\"{new string('x', 4097)}\"}}", ErrorCodes.TextTooLong);
    }

    [Fact]
    public void Text_is_kept_exactly_and_unknown_fields_are_ignored()
    {
        var result = Parse("{\"type\":\"say\",\"from\":\"mallory\",\"text\":\"  spaced  \",\"extra\":{\"a\":[1,2]}}");
        Assert.Equal(new SayCommand("  spaced  "), result.Value);
    }

    [Fact]
    public void Invalid_utf8_is_bad_request_that_closes()
    {
        var result = ChatCodec.ParseCommand([(byte)'{', 0xC3, 0x28, (byte)'}']);
        Assert.Equal(ErrorCodes.BadRequest, result.Error!.Code);
        Assert.True(result.Error.ClosesConnection);
    }

    [Fact]
    public void Ticket_line_errors_are_bad_request()
    {
        Assert.Equal(ErrorCodes.BadRequest, ChatCodec.ParseTicketRequest("{\"offset\":0}"u8).Error!.Code);
        Assert.Equal(ErrorCodes.BadRequest, ChatCodec.ParseTicketRequest("{\"ticket\":\"ab\",\"offset\":\"x\"}"u8).Error!.Code);
        Assert.Equal(0, ChatCodec.ParseTicketRequest("{\"ticket\":\"ab\"}"u8).Value!.Offset);
    }
}
