using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// When the entry-log writer signs a checkpoint (section <c>AccessControl:LogIntegrity</c>): after every
/// <see cref="CheckpointEveryRows"/> rows, and after <see cref="CheckpointInterval"/> when rows were added since the last one;
/// and how long rows are kept at least before <c>log purge</c> may delete them (<see cref="MinimumRetention"/>).
/// </summary>
public sealed record LogIntegrityOptions
{
    /// <summary>The setting of <see cref="MinimumRetention"/>, as messages name it.</summary>
    public const string MinimumRetentionSetting = "AccessControl:LogIntegrity:MinimumRetention";

    public int CheckpointEveryRows { get; init; } = 1000;

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The purge refuses to delete rows younger than this (default 365 days; longer is always allowed, shorter needs
    /// <see cref="MinimumRetentionReason"/>, and 92 days is the least). See <see cref="LogRetention"/>.
    /// </summary>
    public TimeSpan MinimumRetention { get; init; } = LogRetention.Standard.ToTimeSpan();

    /// <summary>Why <see cref="MinimumRetention"/> is shorter than 365 days (the decision's reference); written into every purge row.</summary>
    public string? MinimumRetentionReason { get; init; }

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

        if (LogRetention.Problem(Duration.FromTimeSpan(MinimumRetention), MinimumRetentionReason) is { } retention)
        {
            errors.Add($"{MinimumRetentionSetting}: {retention} (AccessControl:LogIntegrity:MinimumRetentionReason).");
        }

        return errors;
    }
}

/// <summary>What the writer needs to sign checkpoints: the key, the file outside the database, the clock and the cadence.</summary>
public sealed record LogCheckpointing(LogSigningKey Key, string File, IClock Clock, LogIntegrityOptions Options)
{
    /// <summary>The data folder's key (created on first start) and checkpoint file.</summary>
    public static LogCheckpointing ForDataFolder(string dataDirectory, IClock clock, LogIntegrityOptions? options = null) =>
        new(LogSigningKey.LoadOrCreate(dataDirectory), CheckpointFile.PathIn(dataDirectory), clock, options ?? new LogIntegrityOptions());
}
