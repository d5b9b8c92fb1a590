using Messenger.Chat;

namespace Messenger.Tests.Chat;

public class UnansweredSaysTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Says_a_room_echoes_are_never_refused()
    {
        var says = new UnansweredSays();
        says.Sent("rust", At(0));
        says.Sent("rust", At(1));
        says.Echoed("rust", At(2));
        says.Echoed("rust", At(3));
        Assert.True(says.IsEmpty);
        Assert.Empty(says.TakeExpired(At(100), Timeout));
    }

    [Fact]
    public void A_room_that_answers_nothing_for_the_timeout_loses_every_say_waiting_for_it_once()
    {
        var says = new UnansweredSays();
        says.Sent("rust", At(0));
        says.Sent("rust", At(4));
        says.Sent("go", At(5));
        Assert.Empty(says.TakeExpired(At(9.9), Timeout));
        Assert.Equal([("rust", 2)], says.TakeExpired(At(10), Timeout));
        Assert.Equal([("go", 1)], says.TakeExpired(At(15), Timeout));
        Assert.True(says.IsEmpty);
        says.Echoed("rust", At(16)); // stored after all: nothing waits for it
        Assert.True(says.IsEmpty);
    }

    [Fact]
    public void An_echo_shows_the_room_alive_and_restarts_its_clock()
    {
        var says = new UnansweredSays();
        says.Sent("rust", At(0));
        says.Sent("rust", At(1));
        says.Echoed("rust", At(8));
        Assert.Empty(says.TakeExpired(At(17), Timeout));
        Assert.Equal([("rust", 1)], says.TakeExpired(At(18), Timeout));
    }
}
