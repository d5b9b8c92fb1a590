namespace Messenger.Files;

/// <summary>What counts as a plain file name: the only kind of name the server ever serves.</summary>
public static class FileNames
{
    private static readonly char[] Forbidden = ['/', '\\', ':', '\0'];

    /// <summary>
    /// True for a name that can only mean a file directly inside the folder: not empty, not
    /// <c>.</c> or <c>..</c>, no separators (either platform's), no drive or stream colon, no NUL,
    /// no leading or trailing spaces.
    /// </summary>
    public static bool IsPlain(string? name) =>
        !string.IsNullOrEmpty(name)
        && name.Length <= 255
        && name is not ("." or "..")
        && name.IndexOfAny(Forbidden) < 0
        && name.Trim() == name
        && !name.Any(char.IsControl)
        && !Path.IsPathRooted(name);

    /// <summary>A plain name that is not a dotfile: the names the catalog offers.</summary>
    public static bool IsOffered(string? name) => IsPlain(name) && name![0] != '.';
}
