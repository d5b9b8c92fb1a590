namespace Messenger.Protocol;

/// <summary>The <c>code</c> values of <c>{"type":"error"}</c> frames; docs/protocol.md lists them.</summary>
public static class ErrorCodes
{
    public const string BadRequest = "bad_request";
    public const string NotLoggedIn = "not_logged_in";
    public const string AlreadyLoggedIn = "already_logged_in";
    public const string BadUsername = "bad_username";
    public const string UsernameTaken = "username_taken";
    public const string NoSuchUser = "no_such_user";
    public const string TextTooLong = "text_too_long";
    public const string LineTooLong = "line_too_long";
    public const string RateLimited = "rate_limited";
    public const string NoSuchFile = "no_such_file";
    public const string BadTicket = "bad_ticket";
    public const string BadOffset = "bad_offset";
    /// <summary>A connection limit (in all, per address, or logging in) was reached; the connection is closed.</summary>
    public const string ConnectionLimit = "connection_limit";
    /// <summary>No <c>hello</c> was accepted within the login timeout; the connection is closed.</summary>
    public const string LoginTimeout = "login_timeout";
    /// <summary>The server is shutting down; the connection is closed.</summary>
    public const string ServerShutdown = "server_shutdown";
    public const string TooManyTickets = "too_many_tickets";
}
