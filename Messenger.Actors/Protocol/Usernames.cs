namespace Messenger.Protocol;

/// <summary>Username rules: 1–32 ASCII letters, digits, '_', '-', '.'; unique ignoring case.</summary>
public static class Usernames
{
    public static readonly StringComparer Comparer = StringComparer.OrdinalIgnoreCase;

    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > ProtocolLimits.MaxUsernameLength) return false;
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')) return false;
        }
        return true;
    }
}
