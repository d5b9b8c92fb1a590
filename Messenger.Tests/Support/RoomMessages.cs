using Akka.TestKit;
using Messenger.Protocol;

namespace Messenger.Tests.Support;

/// <summary>What a room member receives: messages one by one or, stored together, as a <see cref="FrameBatch"/> of them.</summary>
public static class RoomMessages
{
    /// <summary>
    /// The next <paramref name="count"/> room messages this probe receives, in the order received,
    /// whether they came alone or batched. Fails on anything else in between, or on a batch that
    /// reaches past <paramref name="count"/>.
    /// </summary>
    public static List<MessageFrame> ExpectMessages(this TestProbe member, int count)
    {
        var messages = new List<MessageFrame>(count);
        while (messages.Count < count)
        {
            switch (member.ReceiveOne())
            {
                case MessageFrame message: messages.Add(message); break;
                case FrameBatch batch when batch.Frames.All(f => f is MessageFrame): messages.AddRange(batch.Frames.Cast<MessageFrame>()); break;
                case var other: throw new Xunit.Sdk.XunitException($"expected a room message, got {other?.ToString() ?? "nothing in time"}");
            }
        }
        Assert.Equal(count, messages.Count);
        return messages;
    }

    public static MessageFrame ExpectMessage(this TestProbe member) => member.ExpectMessages(1)[0];
}
