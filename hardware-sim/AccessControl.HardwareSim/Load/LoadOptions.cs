namespace AccessControl.HardwareSim.Load;

/// <summary>
/// An open-loop load: card events at <see cref="RatePerSecond"/> in total, spread round-robin over the readers,
/// for <see cref="Duration"/>, whatever the service's latency (the schedule does not wait for decisions).
/// </summary>
/// <param name="Cards">Cards presented in turn; an empty list is an error.</param>
/// <param name="Drain">How long to wait, after the last event, for the decisions still outstanding.</param>
public sealed record LoadOptions(double RatePerSecond, TimeSpan Duration, IReadOnlyList<string> Cards, string Technology, TimeSpan Drain)
{
    public void Validate()
    {
        if (!(RatePerSecond > 0) || double.IsInfinity(RatePerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(RatePerSecond), RatePerSecond, "The rate must be a positive number of events per second.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Duration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(Drain, TimeSpan.Zero);
        if (Cards.Count == 0)
        {
            throw new ArgumentException("At least one card is needed.", nameof(Cards));
        }

        ArgumentException.ThrowIfNullOrEmpty(Technology);
    }
}
