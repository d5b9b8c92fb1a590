using Akka.Actor;
using Akka.Persistence;
using Messenger.Persistence;

namespace Messenger.Tests.Persistence;

/// <summary>The SQLite journal's commit interval, made long here so that what it holds back is seen.</summary>
public sealed class SqliteCommitIntervalSpec : SqliteJournalSpec
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public SqliteCommitIntervalSpec() : base($"messenger.sqlite-commit-interval = {Interval.TotalSeconds}s")
    {
    }

    /// <summary>Persists each text it is told (PersistAsync, as rooms do) and answers it once stored.</summary>
    private sealed class Writer : ReceivePersistentActor
    {
        private readonly List<string> _recovered = new();

        public Writer(string id)
        {
            PersistenceId = id;
            Recover<RoomMessagePosted>(e => _recovered.Add(e.Text));
            Command<string>(text =>
            {
                if (text == "recovered") Sender.Tell(_recovered.ToArray());
                else
                {
                    var replyTo = Sender;
                    PersistAsync(new RoomMessagePosted("w", text, 1), _ => replyTo.Tell(text));
                }
            });
        }

        public override string PersistenceId { get; }
    }

    [Fact]
    public void Writes_within_the_interval_after_a_commit_are_stored_together_once_it_is_over()
    {
        var writer = Sys.ActorOf(Props.Create(() => new Writer("room-calm")));
        writer.Tell("first");
        ExpectMsg("first");
        var committed = DateTime.UtcNow;

        writer.Tell("second");
        writer.Tell("third");
        ExpectNoMsg(Interval / 4);
        ExpectMsg("second", Interval * 3);
        ExpectMsg("third");
        // Without the interval they are stored within milliseconds; the margin is for a busy machine.
        Assert.True(DateTime.UtcNow - committed >= Interval / 2, "the held writes were stored long before the interval was over");
        Sys.Stop(writer);

        var again = Sys.ActorOf(Props.Create(() => new Writer("room-calm")));
        again.Tell("recovered");
        Assert.Equal(["first", "second", "third"], ExpectMsg<string[]>());
    }
}
