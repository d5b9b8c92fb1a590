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
    /// <summary>A logged-in client sent no complete line for the idle timeout; the connection is closed.</summary>
    public const string IdleTimeout = "idle_timeout";
    /// <summary>The server is shutting down; the connection is closed.</summary>
    public const string ServerShutdown = "server_shutdown";
    public const string TooManyTickets = "too_many_tickets";
    public const string BadRoom = "bad_room";
    public const string NotMember = "not_member";
    /// <summary>A <c>say</c> whose write failed or timed out: it reached no one (one that timed out may still be stored).</summary>
    public const string NotStored = "not_stored";
    public const string TooManyRooms = "too_many_rooms";
    public const string WrongPassword = "wrong_password";
    public const string NameRegistered = "name_registered";
    public const string AlreadyRegistered = "already_registered";
    public const string NotRegistered = "not_registered";
    public const string BadPassword = "bad_password";
    public const string MailboxFull = "mailbox_full";
    /// <summary>Too many logins from this IP address in a short time; the connection stays open to try again.</summary>
    public const string TooManyLogins = "too_many_logins";
}
