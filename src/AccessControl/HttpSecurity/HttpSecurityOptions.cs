namespace AccessControl.HttpSecurity;

/// <summary>Limits of the HTTP API: how many requests a client may send, and how many failed sign-ins it gets.</summary>
public sealed record HttpSecurityOptions
{
    /// <summary>Requests one client address may make per <see cref="RequestWindow"/> (all endpoints together); then 429.</summary>
    public int RequestsPerWindow { get; init; } = 600;

    /// <summary>The window of <see cref="RequestsPerWindow"/>.</summary>
    public TimeSpan RequestWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Failed sign-ins (unknown or missing bearer token) from one address within <see cref="FailureWindow"/> that lock it out.</summary>
    public int FailuresBeforeLockout { get; init; } = 10;

    /// <summary>How far back failed sign-ins are counted.</summary>
    public TimeSpan FailureWindow { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a locked-out address is refused (429) on every endpoint but <c>/health</c>.</summary>
    public TimeSpan LockoutFor { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The largest request body any endpoint takes unless it says otherwise (the HR feed takes
    /// <c>HrFeedApi.MaxBodyBytes</c>); a larger one is refused 413 before it is read. The largest legitimate bodies
    /// (a visit of 20 visitors with long non-Latin names, a fingerprint template) are well under 64 KiB.
    /// </summary>
    public int MaxRequestBodyBytes { get; init; } = 64 * 1024;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxRequestBodyBytes is < 16 * 1024 or > 1024 * 1024)
        {
            errors.Add("AccessControl:Http:MaxRequestBodyBytes must be 16384..1048576.");
        }

        if (RequestsPerWindow < 1 || RequestWindow <= TimeSpan.Zero)
        {
            errors.Add("AccessControl:Http:RequestsPerWindow and RequestWindow must be positive.");
        }

        if (FailuresBeforeLockout < 1 || FailureWindow <= TimeSpan.Zero || LockoutFor <= TimeSpan.Zero)
        {
            errors.Add("AccessControl:Http:FailuresBeforeLockout, FailureWindow and LockoutFor must be positive.");
        }

        return errors;
    }
}
