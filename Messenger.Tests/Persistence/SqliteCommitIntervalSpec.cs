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

    [Fact]
    public void Writes_that_keep_coming_are_stored_once_per_interval_and_a_write_after_a_quiet_interval_at_once()
    {
        var writer = Sys.ActorOf(Props.Create(() => new TextJournalWriter("room-busy")));
        writer.Tell("first");
        ExpectMsg<TextStored>();
        var committed = DateTime.UtcNow;
        // Each write sent as the one before is stored: held to the end of the interval, by the timer
        // that ticks once per interval while writes keep coming.
        foreach (var text in new[] { "second", "third" })
        {
            writer.Tell(text);
            Assert.Equal(text, ExpectMsg<TextStored>(Interval * 3).Text);
            Assert.True(DateTime.UtcNow - committed >= Interval / 2, $"{text} was stored long before the interval was over");
            committed = DateTime.UtcNow;
        }

        // A tick that finds nothing to store stops the timer; the next write is stored at once and
        // the one after it waits for the interval again.
        ExpectNoMsg(Interval * 1.25);
        var sent = DateTime.UtcNow;
        writer.Tell("fourth");
        Assert.Equal("fourth", ExpectMsg<TextStored>().Text);
        Assert.True(DateTime.UtcNow - sent < Interval / 2, "a write after a quiet interval waited for a timer");
        committed = DateTime.UtcNow;
        writer.Tell("fifth");
        Assert.Equal("fifth", ExpectMsg<TextStored>(Interval * 3).Text);
        Assert.True(DateTime.UtcNow - committed >= Interval / 2, "the write after it was stored long before the interval was over");
        Sys.Stop(writer);
    }
}
