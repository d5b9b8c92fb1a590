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
        says.Echoed("rust");
        says.Echoed("rust");
        Assert.True(says.IsEmpty);
        Assert.Empty(says.TakeExpired(At(100), Timeout));
    }

    [Fact]
    public void Each_say_waiting_for_the_timeout_is_lost_once()
    {
        var says = new UnansweredSays();
        says.Sent("rust", At(0));
        says.Sent("rust", At(4));
        says.Sent("go", At(5));
        Assert.Empty(says.TakeExpired(At(9.9), Timeout));
        Assert.Equal([("rust", 1)], says.TakeExpired(At(10), Timeout));
        Assert.Equal([("rust", 1), ("go", 1)], says.TakeExpired(At(15), Timeout));
        Assert.True(says.IsEmpty);
        says.Echoed("rust"); // stored after all: nothing waits for it
        Assert.True(says.IsEmpty);
    }

    [Fact]
    public void A_say_sent_after_lost_ones_is_not_lost_with_them()
    {
        var says = new UnansweredSays();
        says.Sent("rust", At(0)); // lost with the room's node
        says.Sent("rust", At(9)); // reaches the room's next incarnation
        Assert.Equal([("rust", 1)], says.TakeExpired(At(12), Timeout));
        says.Echoed("rust");
        Assert.True(says.IsEmpty);
    }
}
