using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// When the entry-log writer signs a checkpoint (section <c>AccessControl:LogIntegrity</c>): after every
/// <see cref="CheckpointEveryRows"/> rows, and after <see cref="CheckpointInterval"/> when rows were added since the last one.
/// </summary>
public sealed record LogIntegrityOptions
{
    public int CheckpointEveryRows { get; init; } = 1000;

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(60);

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
