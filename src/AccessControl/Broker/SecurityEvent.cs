using AccessControl.Display;
using NodaTime;

namespace AccessControl.Broker;

/// <summary>
/// Something the broker refused: a login, a publish, a subscription, a last will, a packet too large to read, or a
/// connection that did not log in in time or came over the count of those waiting to. The
/// service writes each one to the entry log as kind <c>security</c>, because probing for other devices' topics is
/// exactly what an attacker with one stolen reader would do. Never carries a password; client id and username are as
/// presented (untrusted) and are cleaned with <see cref="Clean"/> so a hostile client cannot forge log lines.
/// </summary>
/// <param name="What">One of the <c>*Refused</c> constants, <see cref="ConnectionClosed"/> or <see cref="SessionTakenOver"/>.</param>
/// <param name="Detail">Why, in words, for the log.</param>
/// <param name="From">The remote address (no port) the refused packet came from, when the broker knows it; null when not.</param>
public sealed record SecurityEvent(Instant At, string ClientId, string Username, string What, string Detail, string? From = null)
{
    public const string ConnectRefused = "connect_refused";
    public const string WillRefused = "will_refused";
    public const string PublishRefused = "publish_refused";
    public const string SubscribeRefused = "subscribe_refused";

    /// <summary>A packet over the broker's size limit: the connection is closed before its body is read.</summary>
    public const string PacketRefused = "packet_refused";

    /// <summary>
    /// A connection closed before it logged in: past its deadline, over the count of connections waiting to log in,
    /// a failed TLS handshake, a first packet that is not a CONNECT or over the pre-login size limit (<see cref="PreLoginLimits"/>). No client id or username: it never presented any.
    /// </summary>
    public const string ConnectionClosed = "connection_closed";

    /// <summary>
    /// A device's connection closed because a new one logged in with the same identity (MQTT's session takeover). Not a
    /// refusal: the device may just have reconnected before its old connection was seen to die; but a device whose
    /// sessions keep being taken over has a second holder of its credentials. <see cref="From"/> is the closed connection's address.
    /// </summary>
    public const string SessionTakenOver = "session_taken_over";

    /// <summary>
    /// Refusals that got no row of their own (<see cref="SecurityEventBudget"/>): one row per kind and source and window,
    /// with how many, the first and the last.
    /// </summary>
    public const string Suppressed = "security_events_suppressed";

    private const int MaxLength = 128;

    /// <summary>The address of a remote endpoint without its port (connections from one host count together), or null.</summary>
    public static string? AddressOf(System.Net.EndPoint? endPoint) => endPoint switch
    {
        System.Net.IPEndPoint ip => ip.Address.ToString(),
        null => null,
        _ => Clean(endPoint.ToString()),
    };

    /// <summary>
    /// Makes an untrusted string safe to log: at most 128 characters, control characters and invisible formatting
    /// characters (bidi overrides, zero-width characters: <see cref="ReadableText"/>'s rule) replaced by '?', and null
    /// shown as empty. A device name written backwards behind a right-to-left override would otherwise read as another
    /// device's in the service log, and a zero-width character would make two names look the same.
    /// </summary>
    public static string Clean(string? value) => CleanUpTo(value, MaxLength);

    /// <summary>As <see cref="Clean"/>, at most <paramref name="maxLength"/> characters (a name of its own, so that
    /// <c>Select(SecurityEvent.Clean)</c> never binds the index to the length).</summary>
    public static string CleanUpTo(string? value, int maxLength) =>
        string.IsNullOrEmpty(value) ? "" : ReadableText.Replaced(value.Length > maxLength ? value[..maxLength] + "…" : value);
}
