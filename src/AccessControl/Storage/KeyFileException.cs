namespace AccessControl.Storage;

/// <summary>
/// A key the service needs (a key file in the data folder, or the environment variable that stands in for it) that
/// cannot be read as the key it should hold: the service does not start, and says which and why. The message never
/// holds the key's content.
/// </summary>
/// <remarks>
/// A new key would not do instead: it would not match what the old one derived or signed (device passwords, hashed
/// document numbers, the log's checkpoints, sealed fingerprint templates), so the remedy is the backup.
/// </remarks>
public sealed class KeyFileException(string source, string problem, Exception? inner = null)
    : Exception($"Cannot start: {source} {problem}. Restore it from the backup of the data folder's keys; a new key would not match what the old one derived or signed (docs/operations.md, section 8).", inner);
