using System.Diagnostics;
using System.Net;
using Messenger.Accounts;
using System.Text;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>Registered names and offline messages over loopback, on a real SQLite database.</summary>
public class AccountTests
{
    private static readonly Password Secret = new("correct horse");

    private static async Task<ChatTestClient> LoginAsync(TestServer server, string user, Password password)
    {
        var client = await server.ConnectAsync();
        await client.SendAsync(new HelloCommand(user, password));
        await client.ExpectAsync<WelcomeFrame>();
        return client;
    }

    [Fact]
    public async Task A_registered_name_and_its_offline_messages_survive_a_restart_and_arrive_once()
    {
        using var data = new TempFolder();
        await using (var server = await TestServer.StartAsync(data: data))
        {
            await using var alice = await server.LoginAsync("alice");
            await alice.SendAsync(new RegisterCommand(Secret));
            Assert.Equal(new RegisteredFrame("alice"), await alice.ExpectAsync<RegisteredFrame>());
            await alice.SendAsync(new RegisterCommand(Secret));
            await alice.ExpectErrorAsync(ErrorCodes.AlreadyRegistered);
            await alice.SendAsync(ByeCommand.Instance);
            await alice.ReadUntilClosedAsync();

            // Offline now: a guest cannot take the name; a PM to it is kept.
            await using var guest = await server.ConnectAsync();
            await guest.SendAsync(new HelloCommand("Alice"));
            await guest.ExpectErrorAsync(ErrorCodes.NameRegistered);
            await guest.SendAsync(new HelloCommand("bob"));
            await guest.ExpectAsync<WelcomeFrame>();
            await guest.SendAsync(new PmCommand("alice", "see you tomorrow"));
            var queued = await guest.ExpectAsync<PrivateMessageFrame>();
            Assert.Equal(("bob", "alice", "see you tomorrow", true), (queued.From, queued.To, queued.Text, queued.Queued));
            Assert.Contains("\"queued\":true", Encoding.UTF8.GetString(queued.Line));
        }

        await using (var server = await TestServer.StartAsync(data: data))
        {
            await using var guest = await server.ConnectAsync();
            await guest.SendAsync(new HelloCommand("alice"));
            await guest.ExpectErrorAsync(ErrorCodes.NameRegistered);
            await guest.SendAsync(new HelloCommand("alice", new Password("wrong password")));
            await guest.ExpectErrorAsync(ErrorCodes.WrongPassword);

            await using (var alice = await LoginAsync(server, "ALICE", Secret))
            {
                var offline = await alice.ExpectAsync<PrivateMessageFrame>();
                Assert.Equal(("bob", "alice", "see you tomorrow", true), (offline.From, offline.To, offline.Text, offline.Offline));
                await alice.SendAsync(new PasswdCommand(Secret, new Password("battery staple")));
                await alice.ExpectAsync<PasswordChangedFrame>();
                await alice.SendAsync(ByeCommand.Instance);
                await alice.ReadUntilClosedAsync();
            }
            await using var again = await LoginAsync(server, "alice", new Password("battery staple"));
            await again.SendAsync(PingCommand.Instance);
            await again.ExpectAsync<PongFrame>(); // nothing delivered twice before the pong
        }
    }

    [Fact]
    public async Task A_kept_pm_survives_a_login_whose_connection_closes_during_the_password_check_and_then_arrives_once()
    {
        // Hashes slow enough (a good fraction of a second) that the connection is gone before its check ends.
        await using var server = await TestServer.StartAsync("messenger.accounts.pbkdf2-iterations = 300000");
        await server.RegisterAsync("alice", Secret.Text);
        await using (var bob = await server.LoginAsync("bob"))
        {
            await bob.SendAsync(new PmCommand("alice", "while you were out"));
            Assert.True((await bob.ExpectIgnoringPresenceAsync<PrivateMessageFrame>()).Queued);
        }

        await using (var quitter = await server.ConnectAsync())
        {
            await quitter.SendAsync(new HelloCommand("alice", Secret));
            quitter.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send); // hangs up while the password is checked
            Assert.Empty(await quitter.ReadUntilClosedAsync()); // no welcome: the login did not finish
        }

        await using (var alice = await LoginRetryingWhileTakenAsync(server, "alice", Secret))
        {
            var kept = await alice.ExpectIgnoringPresenceAsync<PrivateMessageFrame>();
            Assert.Equal(("bob", "while you were out", true), (kept.From, kept.Text, kept.Offline));
            await alice.SendAsync(PingCommand.Instance);
            await alice.ExpectIgnoringPresenceAsync<PongFrame>(); // once
            await alice.SendAsync(ByeCommand.Instance);
            await alice.ReadUntilClosedAsync();
        }
        await using var again = await LoginAsync(server, "alice", Secret);
        await again.SendAsync(PingCommand.Instance);
        await again.ExpectIgnoringPresenceAsync<PongFrame>(); // not handed over a second time
    }

    [Fact]
    public async Task Register_is_rate_limited_while_the_nodes_hashing_jobs_are_all_taken()
    {
        await using var server = await TestServer.StartAsync("messenger.accounts.max-hash-jobs = 2");
        var jobs = HashJobs.Get(server.Server.System);
        Assert.True(jobs.TryTake() && jobs.TryTake()); // two long logins' checks, say
        Assert.False(jobs.TryTake());
        await using var alice = await server.LoginAsync("alice");
        await alice.SendAsync(new RegisterCommand(Secret));
        await alice.ExpectErrorAsync(ErrorCodes.RateLimited);
        jobs.Release();
        await alice.SendAsync(new RegisterCommand(Secret));
        Assert.Equal(new RegisteredFrame("alice"), await alice.ExpectAsync<RegisteredFrame>());
        jobs.Release();
    }

    [Fact]
    public async Task Registrations_are_limited_per_address()
    {
        await using var server = await TestServer.StartAsync("messenger.accounts.registrations-per-address { per-second = 0.001, burst = 2 }");
        async Task<ServerFrame> RegisterAsync(string user, IPAddress from)
        {
            await using var client = await ChatTestClient.LoginAsync(server.Server.ChatEndpoint, user, from);
            await client.SendAsync(new RegisterCommand(Secret));
            var answer = await client.ReadFrameAsync();
            while (answer is JoinedFrame or LeftFrame) answer = await client.ReadFrameAsync();
            return answer;
        }
        Assert.IsType<RegisteredFrame>(await RegisterAsync("alice", IPAddress.Loopback));
        Assert.IsType<RegisteredFrame>(await RegisterAsync("bob", IPAddress.Loopback));
        var refused = Assert.IsType<ErrorFrame>(await RegisterAsync("carol", IPAddress.Loopback));
        Assert.Equal(ErrorCodes.RateLimited, refused.Code);
        Assert.IsType<RegisteredFrame>(await RegisterAsync("dave", IPAddress.Parse("127.0.0.2"))); // another address has its own bucket
    }

    /// <summary>Logs in; while the name is still held for a connection that has just closed (its claim has not seen it go yet), tries again.</summary>
    private static async Task<ChatTestClient> LoginRetryingWhileTakenAsync(TestServer server, string user, Password password)
    {
        var client = await server.ConnectAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await client.SendAsync(new HelloCommand(user, password));
            var answer = await client.ReadFrameAsync();
            if (answer is WelcomeFrame) return client;
            Assert.Equal(ErrorCodes.UsernameTaken, Assert.IsType<ErrorFrame>(answer).Code);
            Assert.True(DateTime.UtcNow < deadline, $"{user} was still taken after 10 s");
            await Task.Delay(20); // polling interval, bounded by the deadline above
        }
    }

    [Fact]
    public async Task Ten_thousand_password_guesses_on_one_connection_are_rate_limited_while_others_are_served()
    {
        await using var server = await TestServer.StartAsync();
        await using (var owner = await server.LoginAsync("alice"))
        {
            await owner.SendAsync(new RegisterCommand(Secret));
            await owner.ExpectAsync<RegisteredFrame>();
            await owner.SendAsync(ByeCommand.Instance);
            await owner.ReadUntilClosedAsync();
        }
        await using var bob = await server.LoginAsync("bob");
        await using var carol = await server.LoginAsync("carol");
        await bob.ExpectAsync<JoinedFrame>();

        await using var guesser = await server.ConnectAsync();
        var guesses = new StringBuilder();
        for (int i = 0; i < 10_000; i++) guesses.Append($"{{\"type\":\"hello\",\"user\":\"alice\",\"password\":\"guess-{i:D5}\"}}\n");
        var flood = Task.Run(async () =>
        {
            try { await guesser.SendRawAsync(Encoding.ASCII.GetBytes(guesses.ToString())); }
            catch (IOException) { } // closed for flooding
            catch (System.Net.Sockets.SocketException) { }
        });

        // Meanwhile a private message round trip stays quick.
        var roundTrips = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var clock = Stopwatch.StartNew();
            await bob.SendAsync(new PmCommand("carol", $"still here {i}"));
            await carol.ExpectAsync<PrivateMessageFrame>();
            await bob.ExpectAsync<PrivateMessageFrame>();
            roundTrips.Add(clock.Elapsed.TotalMilliseconds);
        }

        var answers = (await guesser.ReadUntilClosedAsync(TimeSpan.FromSeconds(60)))
            .Select(l => ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(l)).Value).ToList();
        await flood.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(answers, a => a is WelcomeFrame);
        int wrong = answers.Count(a => a is ErrorFrame { Code: ErrorCodes.WrongPassword });
        // At most the name's burst of 5 and what refilled meanwhile were checked at all. (The
        // connection may be closed for flooding before even the first answer comes back.)
        Assert.InRange(wrong, 0, 10);
        Assert.True(answers.Count(a => a is ErrorFrame { Code: ErrorCodes.RateLimited }) > 0);
        Assert.True(roundTrips.Max() < 5000, $"a PM round trip took {roundTrips.Max():0} ms during the guessing");

        // The owner gets in once the name's bucket has refilled (one attempt every 5 s by default).
        await using var alice = await server.ConnectAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await alice.SendAsync(new HelloCommand("alice", Secret));
            var answer = await alice.ReadFrameAsync();
            if (answer is WelcomeFrame) break;
            // The name's bucket, or its address's: the guesser came from the same address.
            Assert.Contains(Assert.IsType<ErrorFrame>(answer).Code, new[] { ErrorCodes.RateLimited, ErrorCodes.TooManyLogins });
            Assert.True(DateTime.UtcNow < deadline, "the owner could not log in within 30 s of the guessing");
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task A_journal_from_before_the_claims_listed_registered_names_still_keeps_them_from_guests()
    {
        using var data = new TempFolder();
        await using (var server = await TestServer.StartAsync(data: data))
        {
            await using var alice = await server.LoginAsync("alice");
            await alice.SendAsync(new RegisterCommand(Secret));
            await alice.ExpectAsync<RegisteredFrame>();
        }
        // As an older server left it: the account's events, no list of registered names in any claims bucket.
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={data.File(Messenger.Persistence.DataStore.JournalFile)};Pooling=False"))
        {
            db.Open();
            using var delete = db.CreateCommand();
            delete.CommandText = "DELETE FROM journal WHERE persistence_id LIKE 'name-claims-%'";
            Assert.True(delete.ExecuteNonQuery() > 0);
        }

        await using (var server = await TestServer.StartAsync(data: data))
        {
            await using var guest = await server.ConnectAsync();
            await guest.SendAsync(new HelloCommand("ALICE"));
            await guest.ExpectErrorAsync(ErrorCodes.NameRegistered);
            await guest.SendAsync(new HelloCommand("bob"));
            await guest.ExpectAsync<WelcomeFrame>();
            await guest.SendAsync(new PmCommand("carol", "anyone?"));
            await guest.ExpectErrorAsync(ErrorCodes.NoSuchUser);
            await using var alice = await LoginAsync(server, "alice", Secret);
        }
    }
}
