using Akka.Actor;
using Akka.Persistence;
using Messenger.Persistence;

namespace Messenger.Tests.Support;

/// <summary>What <see cref="TextJournalWriter"/> answers once a text is stored.</summary>
public sealed record TextStored(string Text, long SequenceNr);

/// <summary>
/// A persistent actor for journal tests: each text it is told is stored as a room message
/// (<c>PersistAsync</c>, as rooms do) and answered with <see cref="TextStored"/>; "recovered" is
/// answered with the texts it recovered, in order.
/// </summary>
public sealed class TextJournalWriter : ReceivePersistentActor
{
    private readonly List<string> _recovered = new();

    public TextJournalWriter(string id)
    {
        PersistenceId = id;
        Recover<RoomMessagePosted>(e => _recovered.Add(e.Text));
        Command<string>(text =>
        {
            if (text == "recovered")
            {
                Sender.Tell(_recovered.ToArray());
                return;
            }
            var replyTo = Sender;
            PersistAsync(new RoomMessagePosted("w", text, 1), _ => replyTo.Tell(new TextStored(text, LastSequenceNr)));
        });
    }

    public override string PersistenceId { get; }
}
