namespace Messenger.Protocol;

/// <summary>Limits fixed by the wire protocol (not tunables: clients depend on them).</summary>
public static class ProtocolLimits
{
    /// <summary>Bytes in one control-channel line, not counting its <c>\n</c> or <c>\r\n</c>.</summary>
    public const int MaxLineBytes = 65_536;

    /// <summary>Unicode code points in a chat or private message.</summary>
    public const int MaxTextCodePoints = 4_096;

    /// <summary>Characters in a username.</summary>
    public const int MaxUsernameLength = 32;

    /// <summary>Messages in one <c>history</c> answer, and how many a <c>history</c> without <c>limit</c> gets.</summary>
    public const int MaxHistoryLimit = 200;
    public const int DefaultHistoryLimit = 50;

    /// <summary>Characters in a password: at least 8 (OWASP's minimum), at most 128 (hashing cost stays bounded).</summary>
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 128;
}
