using NodaTime;

namespace AccessControl.Hosting;

/// <summary>
/// A clock that reads another and cuts each instant to the millisecond (towards the start of time): the precision the
/// entry log, the database and the reader protocol keep. The composition roots (Program.cs) read the system clock through it, so an
/// answer never shows an instant (<c>...T09:15:02.1234567Z</c>) that its own row stores as another
/// (<c>...T09:15:02.123Z</c>), and a resend compares equal to what was stored.
/// </summary>
public sealed class MillisecondClock(IClock inner) : IClock
{
    private readonly IClock inner = inner ?? throw new ArgumentNullException(nameof(inner));

    public Instant GetCurrentInstant() => Instant.FromUnixTimeMilliseconds(inner.GetCurrentInstant().ToUnixTimeMilliseconds());
}
