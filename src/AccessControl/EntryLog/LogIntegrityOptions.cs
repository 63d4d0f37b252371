using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// When the entry-log writer signs a checkpoint (section <c>AccessControl:LogIntegrity</c>): after every
/// <see cref="CheckpointEveryRows"/> rows, and after <see cref="CheckpointInterval"/> when rows were added since the last one;
/// how long rows are kept at least before <c>log purge</c> may delete them (<see cref="MinimumRetention"/>); and how often
/// the running service verifies the whole log itself (<see cref="VerifyInterval"/>).
/// </summary>
public sealed record LogIntegrityOptions
{
    /// <summary>The setting of <see cref="MinimumRetention"/>, as messages name it.</summary>
    public const string MinimumRetentionSetting = "AccessControl:LogIntegrity:MinimumRetention";

    /// <summary>What <see cref="MinimumRetentionSetting"/> may be, for the messages that refuse a value.</summary>
    public static readonly string MinimumRetentionRange =
        $"allowed: {LogRetention.Floor.Days} to {LogRetention.Ceiling.Days} days, as days.hh:mm:ss; "
        + $"under {LogRetention.Standard.Days} days only with AccessControl:LogIntegrity:MinimumRetentionReason";

    public int CheckpointEveryRows { get; init; } = 1000;

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The purge refuses to delete rows younger than this (default 365 days; longer is always allowed, shorter needs
    /// <see cref="MinimumRetentionReason"/>, and 92 days is the least). See <see cref="LogRetention"/>.
    /// </summary>
    public TimeSpan MinimumRetention { get; init; } = LogRetention.Standard.ToTimeSpan();

    /// <summary>Why <see cref="MinimumRetention"/> is shorter than 365 days (the decision's reference); written into every purge row.</summary>
    public string? MinimumRetentionReason { get; init; }

    /// <summary>
    /// The seq of the checkpoint beyond the database's head that the operator accepts to start past (<see cref="LogRollback"/>;
    /// <c>--accept-log-rollback SEQ</c>). It names one rollback, the one the refusal named: left set, it accepts no other.
    /// </summary>
    public long? AcceptRollback { get; init; }

    /// <summary>
    /// How often the service verifies the whole entry log itself, as <c>accesscontrol log verify</c> does, and raises a
    /// <c>log_integrity</c> alarm when it finds it altered (<see cref="LogWatch"/>): the first time
    /// <see cref="LogWatch.FirstAfter"/> the start (5 minutes), then every interval. Default one day; zero turns it off;
    /// otherwise at least <see cref="VerifyIntervalFloor"/> (a verify reads the whole log, about 5 s per million rows).
    /// </summary>
    public TimeSpan VerifyInterval { get; init; } = TimeSpan.FromDays(1);

    /// <summary>The shortest <see cref="VerifyInterval"/> other than zero.</summary>
    public static readonly TimeSpan VerifyIntervalFloor = TimeSpan.FromMinutes(1);

    /// <summary>The retention rule the purge applies; valid only when <see cref="Validate"/> found nothing.</summary>
    public LogRetention Retention => new(Duration.FromTimeSpan(MinimumRetention), MinimumRetentionReason);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (CheckpointEveryRows < 1)
        {
            errors.Add("AccessControl:LogIntegrity:CheckpointEveryRows must be at least 1.");
        }

        if (CheckpointInterval <= TimeSpan.Zero)
        {
            errors.Add("AccessControl:LogIntegrity:CheckpointInterval must be positive.");
        }

        if (VerifyInterval < TimeSpan.Zero || (VerifyInterval > TimeSpan.Zero && VerifyInterval < VerifyIntervalFloor))
        {
            errors.Add($"AccessControl:LogIntegrity:VerifyInterval must be 0 (off) or at least {VerifyIntervalFloor:c}: a verification reads the whole entry log.");
        }

        if (LogRetention.Problem(Duration.FromTimeSpan(MinimumRetention), MinimumRetentionReason) is { } retention)
        {
            errors.Add($"{MinimumRetentionSetting}: {retention} ({MinimumRetentionRange}).");
        }

        return errors;
    }

    /// <summary>
    /// What is wrong with the text of <see cref="MinimumRetentionSetting"/> in the settings, before it is bound, or null:
    /// one that is not a <see cref="TimeSpan"/> at all, such as <c>100000000.00:00:00</c> (which overflows it), would
    /// otherwise only be "failed to convert"; its range is <see cref="Validate"/>'s.
    /// </summary>
    public static string? MinimumRetentionTextProblem(string? text) =>
        text is null || TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out _)
            ? null
            : $"{MinimumRetentionSetting}: '{text}' is not a duration the entry log can be kept for ({MinimumRetentionRange}).";
}

/// <summary>What the writer needs to sign checkpoints: the key, the file outside the database, the clock and the cadence.</summary>
public sealed record LogCheckpointing(LogSigningKey Key, string File, IClock Clock, LogIntegrityOptions Options)
{
    /// <summary>The data folder's key (created on first start) and checkpoint file.</summary>
    public static LogCheckpointing ForDataFolder(string dataDirectory, IClock clock, LogIntegrityOptions? options = null) =>
        new(LogSigningKey.LoadOrCreate(dataDirectory), CheckpointFile.PathIn(dataDirectory), clock, options ?? new LogIntegrityOptions());
}
