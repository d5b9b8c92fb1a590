using Akka.Actor;
using Messenger.Persistence;

namespace Messenger.Accounts;

/// <summary>A message for the account of <paramref name="Name"/> (any case: accounts are one per name ignoring case).</summary>
public sealed record ToAccount(string Name, object Command);

/// <summary>The parent of every <see cref="AccountActor"/>, keyed by the lower-case name (see <see cref="EntityDirectory"/>).</summary>
public sealed class AccountDirectory : EntityDirectory
{
    private readonly AccountSettings _settings;

    public AccountDirectory(AccountSettings settings)
    {
        _settings = settings;
        Receive<ToAccount>(e => Deliver(e.Name.ToLowerInvariant(), e.Command));
    }

    public static Props Props(AccountSettings settings) => Akka.Actor.Props.Create(() => new AccountDirectory(settings));

    protected override Props EntityProps(string name) => AccountActor.Props(name, _settings);
}
