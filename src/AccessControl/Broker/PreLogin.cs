namespace AccessControl.Broker;

/// <summary>
/// The limits of the embedded broker on connections that have not logged in yet, section <c>Broker:PreLogin</c>.
/// </summary>
/// <remarks>
/// Anyone who can reach the broker's port can open connections without knowing any secret (and with TLS, without
/// finishing the handshake). Each one holds a socket, a task and, once its first header announces a size, up to <see cref="MaxPacketBytes"/> of memory; MQTTnet
/// itself waits 100 s for the CONNECT and counts nothing. A device logs in within a round trip of connecting, so the
/// deadline is short, and the counts are high enough that every device of a large site reconnecting at the same moment
/// (after a broker restart, all through one address when they come through a proxy) is never refused.
/// </remarks>
public sealed record PreLoginLimits
{
    /// <summary>From the connection's TCP accept, through its TLS handshake, to its accepted login; then the connection is closed.</summary>
    public TimeSpan ConnectDeadline { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Connections waiting to log in from one remote address; one more is closed at once.</summary>
    public int PerAddress { get; init; } = 512;

    /// <summary>Connections waiting to log in, from all addresses together; one more is closed at once.</summary>
    public int Total { get; init; } = 2048;

    /// <summary>
    /// The largest packet, fixed header included, a connection may announce before its login (its CONNECT); a larger one
    /// closes the connection unread. Without it each waiting connection could make the broker hold a buffer of the
    /// general packet limit (69632 bytes): 2048 of them about 140 MB. A device's CONNECT is far smaller: client id and
    /// username of at most 64 characters, its password, a will on its status topic whose payload is a status (within the
    /// 4096-byte payload limit) and a few properties, under 5 KB however long each part may legally be.
    /// </summary>
    public int MaxPacketBytes { get; init; } = 8192;

    /// <summary>Every problem with these limits, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();

        // MQTTnet closes a connection without a CONNECT after 100 s on its own, unreported.
        if (ConnectDeadline <= TimeSpan.Zero || ConnectDeadline > TimeSpan.FromMinutes(1))
        {
            errors.Add($"Broker:PreLogin:ConnectDeadline {ConnectDeadline} must be positive and at most a minute.");
        }

        // Below 1 KiB a legitimate CONNECT with a will could be refused; above 1 MiB the limit protects nothing.
        if (MaxPacketBytes is < 1024 or > 1024 * 1024)
        {
            errors.Add($"Broker:PreLogin:MaxPacketBytes {MaxPacketBytes} must be from 1024 to 1048576.");
        }

        if (PerAddress < 1 || Total < PerAddress)
        {
            errors.Add($"Broker:PreLogin: PerAddress ({PerAddress}) must be at least 1 and Total ({Total}) at least PerAddress.");
        }

        return errors;
    }
}

/// <summary>
/// Counts the connections waiting to log in, by remote address and in all, and admits a new one only within
/// <see cref="PreLoginLimits"/>. Thread-safe: every connection's task enters and leaves it.
/// </summary>
internal sealed class PreLoginGate(PreLoginLimits limits)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, int> byAddress = [];
    private int total;

    /// <summary>Null when the connection from <paramref name="address"/> is admitted (leave with <see cref="Leave"/>); else why not.</summary>
    public string? TryEnter(string address)
    {
        lock (gate)
        {
            var fromAddress = byAddress.GetValueOrDefault(address);
            if (fromAddress >= limits.PerAddress)
            {
                return $"{fromAddress} connections from {address} are already waiting to log in (at most {limits.PerAddress} from one address)";
            }

            if (total >= limits.Total)
            {
                return $"{total} connections are already waiting to log in (at most {limits.Total} in all)";
            }

            byAddress[address] = fromAddress + 1;
            total++;
            return null;
        }
    }

    /// <summary>A connection admitted from <paramref name="address"/> logged in or ended.</summary>
    public void Leave(string address)
    {
        lock (gate)
        {
            var left = byAddress[address] - 1;
            if (left == 0)
            {
                byAddress.Remove(address);
            }
            else
            {
                byAddress[address] = left;
            }

            total--;
        }
    }
}

/// <summary>
/// One admitted connection from its accept until it logs in or ends: its place in the <see cref="PreLoginGate"/> and its
/// deadline. Past the deadline without a login, <see cref="Expired"/> is cancelled, which ends the TLS handshake or the
/// read the connection waits in (see <see cref="BrokerListeners"/>, <see cref="PacketLimitChannel"/>), and the connection is closed.
/// </summary>
internal sealed class PendingLogin : IDisposable
{
    private const int Waiting = 0;
    private const int LoggedIn = 1;
    private const int TimedOut = 2;
    private const int Ended = 3;

    private readonly PreLoginGate gate;
    private readonly string address;
    private readonly Action onTimedOut;
    private readonly ITimer timer;

    // Never disposed: the timer's callback may still be cancelling it while the connection ends, and without a timer
    // or a wait handle of its own it holds nothing to release.
    private readonly CancellationTokenSource expired = new();
    private int state;
    private int left;

    /// <param name="onTimedOut">Runs on a timer thread when the deadline passes without a login, before the read is ended.</param>
    public PendingLogin(PreLoginGate gate, string address, TimeSpan deadline, TimeProvider time, Action onTimedOut)
    {
        this.gate = gate;
        this.address = address;
        this.onTimedOut = onTimedOut;
        timer = time.CreateTimer(_ => OnDeadline(), null, deadline, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Cancelled when the deadline passed without a login.</summary>
    public CancellationToken Expired => expired.Token;

    /// <summary>
    /// The broker accepted the login: the deadline and the count no longer apply. False when the deadline passed first
    /// (the connection is being closed and was reported; the login must be refused).
    /// </summary>
    public bool TryLogIn()
    {
        if (Interlocked.CompareExchange(ref state, LoggedIn, Waiting) != Waiting)
        {
            return false;
        }

        timer.Dispose();
        Leave();
        return true;
    }

    /// <summary>
    /// The connection is closed before its login for a reason of its own (see <see cref="PacketLimitChannel"/>): the
    /// deadline no longer reports it. False when the deadline passed first and reported it.
    /// </summary>
    public bool TryClose() => Interlocked.CompareExchange(ref state, Ended, Waiting) == Waiting;

    /// <summary>The connection ended.</summary>
    public void Dispose()
    {
        Interlocked.CompareExchange(ref state, Ended, Waiting);
        timer.Dispose();
        Leave();
    }

    private void OnDeadline()
    {
        if (Interlocked.CompareExchange(ref state, TimedOut, Waiting) != Waiting)
        {
            return;
        }

        onTimedOut();
        expired.Cancel();
    }

    private void Leave()
    {
        if (Interlocked.Exchange(ref left, 1) == 0)
        {
            gate.Leave(address);
        }
    }
}
