namespace AccessControl.Visitors;

/// <summary>
/// Settings of visitor management, bound from the configuration section <c>AccessControl:Visitors</c>
/// (appsettings.json, or environment variables such as <c>AccessControl__Visitors__Retention=400.00:00:00</c>).
/// </summary>
public sealed record VisitorOptions
{
    public const string Section = "AccessControl:Visitors";

    /// <summary>The shortest retention allowed: three months, counted as 92 days so that any three calendar months are covered.</summary>
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromDays(92);

    /// <summary>How long before the window's start the front desk may check a visitor in.</summary>
    public TimeSpan CheckInLead { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long visit records (the visitor log) are kept after the visit ends; at least <see cref="MinimumRetention"/>.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(365);

    /// <summary>
    /// How far ahead a visit may start. The retention purge counts from a visit's end, so a visit booked years ahead
    /// would keep its visitors' names and organisations that long: a front desk books weeks ahead, not years.
    /// </summary>
    public TimeSpan MaxLeadTime { get; init; } = TimeSpan.FromDays(180);

    /// <summary>The most visitors one request may name.</summary>
    public int MaxVisitorsPerVisit { get; init; } = 20;

    /// <summary>The key file for document-number hashes; a relative path is under the data folder. Created on first start.</summary>
    public string PiiKeyFile { get; init; } = "pii.key";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (CheckInLead < TimeSpan.Zero || CheckInLead > TimeSpan.FromHours(12))
        {
            errors.Add($"{Section}:CheckInLead must be between 0 and 12 hours.");
        }

        if (Retention < MinimumRetention)
        {
            errors.Add($"{Section}:Retention must be at least {MinimumRetention.TotalDays} days (3 months).");
        }

        if (MaxLeadTime < TimeSpan.FromDays(1) || MaxLeadTime > TimeSpan.FromDays(366))
        {
            errors.Add($"{Section}:MaxLeadTime must be between 1 and 366 days.");
        }

        if (MaxVisitorsPerVisit is < 1 or > 100)
        {
            errors.Add($"{Section}:MaxVisitorsPerVisit must be between 1 and 100.");
        }

        if (string.IsNullOrWhiteSpace(PiiKeyFile))
        {
            errors.Add($"{Section}:PiiKeyFile is required.");
        }

        return errors;
    }
}
