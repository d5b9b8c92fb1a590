using Akka.Actor;
using Akka.Persistence;
using Messenger.Persistence;
using Messenger.Tests.Support;

namespace Messenger.Tests.Persistence;

/// <summary>The SQLite journal's commit interval, made long here so that what it holds back is seen.</summary>
public sealed class SqliteCommitIntervalSpec : SqliteJournalSpec
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public SqliteCommitIntervalSpec() : base($"messenger.sqlite-commit-interval = {Interval.TotalSeconds}s")
    {
    }

    [Fact]
    public void Writes_within_the_interval_after_a_commit_are_stored_together_once_it_is_over()
    {
        var writer = Sys.ActorOf(Props.Create(() => new TextJournalWriter("room-calm")));
        writer.Tell("first");
        Assert.Equal("first", ExpectMsg<TextStored>().Text);
        var committed = DateTime.UtcNow;

        writer.Tell("second");
        writer.Tell("third");
        ExpectNoMsg(Interval / 4);
        Assert.Equal("second", ExpectMsg<TextStored>(Interval * 3).Text);
        Assert.Equal("third", ExpectMsg<TextStored>().Text);
        // Without the interval they are stored within milliseconds; the margin is for a busy machine.
        Assert.True(DateTime.UtcNow - committed >= Interval / 2, "the held writes were stored long before the interval was over");
        Sys.Stop(writer);

        var again = Sys.ActorOf(Props.Create(() => new TextJournalWriter("room-calm")));
        again.Tell("recovered");
        Assert.Equal(["first", "second", "third"], ExpectMsg<string[]>());
    }
}
