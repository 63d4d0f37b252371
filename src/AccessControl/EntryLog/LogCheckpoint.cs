using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AccessControl.Storage;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.EntryLog;

/// <summary>
/// A signed statement "the entry log's chain reached row <see cref="Seq"/> with hash <see cref="Hash"/>". Kept in the
/// <c>log_checkpoints</c> table and, one JSON line each, in an append-only file outside the database: whoever rewrites
/// the database without the site's signing key can neither forge new checkpoints nor make the file's agree.
/// </summary>
/// <param name="Rows">Rows in the log when it was taken (informational; purges lower it).</param>
/// <param name="KeyId">First 16 hex digits of SHA-256 of the signing key's SubjectPublicKeyInfo (DER): which key to check with.</param>
/// <param name="Signature">ECDSA P-256 with SHA-256 over <see cref="Message()"/>, DER-encoded (what <c>openssl dgst -verify</c> reads).</param>
public sealed record LogCheckpoint(long Seq, byte[] Hash, long Rows, Instant At, string KeyId, byte[] Signature)
{
    /// <summary>The version tag of the signed message and of the JSON line.</summary>
    public const int Version = 1;

    private static readonly InstantPattern AtPattern = InstantPattern.CreateWithInvariantCulture("uuuu'-'MM'-'dd'T'HH':'mm':'ss.fff'Z'");

    /// <summary>
    /// The exact bytes signed: ASCII <c>ac-entry-log-checkpoint:v1:{seq}:{hash as lower-case hex}:{rows}:{at as Unix ms}</c>.
    /// Text, so that an auditor can rebuild it with a shell one-liner.
    /// </summary>
    public static byte[] Message(long seq, ReadOnlySpan<byte> hash, long rows, Instant at) =>
        Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"ac-entry-log-checkpoint:v{Version}:{seq}:{Convert.ToHexStringLower(hash)}:{rows}:{at.ToUnixTimeMilliseconds()}"));

    public byte[] Message() => Message(Seq, Hash, Rows, At);

    /// <summary>True when <see cref="Signature"/> is a valid signature of <see cref="Message()"/> by <paramref name="publicKey"/>.</summary>
    public bool IsSignedBy(ECDsa publicKey) =>
        publicKey.VerifyData(Message(), Signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>Same seq, hash, rows, time, key and signature.</summary>
    public bool SameAs(LogCheckpoint other) =>
        Seq == other.Seq && Hash.AsSpan().SequenceEqual(other.Hash) && Rows == other.Rows && At == other.At
        && KeyId == other.KeyId && Signature.AsSpan().SequenceEqual(other.Signature);

    /// <summary>One line of the checkpoint file (no line break): <c>{"v":1,"seq":..,"hash":"hex","rows":..,"at":"RFC 3339","keyId":"..","sig":"base64"}</c>.</summary>
    public string ToJsonLine()
    {
        using var stream = new MemoryStream();
        // Only digits, hex and base64 are written: no escaping needed, and '+' stays '+' for whoever greps the file.
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("v", Version);
            json.WriteNumber("seq", Seq);
            json.WriteString("hash", Convert.ToHexStringLower(Hash));
            json.WriteNumber("rows", Rows);
            json.WriteString("at", AtPattern.Format(At));
            json.WriteString("keyId", KeyId);
            json.WriteString("sig", Convert.ToBase64String(Signature));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Parses one line of the checkpoint file; a line that is not a v1 checkpoint gives an error instead.</summary>
    public static (LogCheckpoint? Checkpoint, string? Error) Parse(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != Version)
            {
                return (null, "not a version 1 checkpoint");
            }

            var at = AtPattern.Parse(root.GetProperty("at").GetString() ?? "");
            if (!at.Success)
            {
                return (null, "'at' is not an RFC 3339 UTC time with milliseconds");
            }

            var hash = Convert.FromHexString(root.GetProperty("hash").GetString() ?? "");
            if (hash.Length != LogChain.HashSize)
            {
                return (null, "'hash' is not 32 bytes of hex");
            }

            return (new LogCheckpoint(
                root.GetProperty("seq").GetInt64(),
                hash,
                root.GetProperty("rows").GetInt64(),
                at.Value,
                root.GetProperty("keyId").GetString() ?? "",
                Convert.FromBase64String(root.GetProperty("sig").GetString() ?? "")), null);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return (null, ex.Message);
        }
    }
}

/// <summary>
/// The append-only checkpoint file (<c>checkpoints/entry-log.checkpoints.jsonl</c> in the data folder): one
/// <see cref="LogCheckpoint.ToJsonLine"/> per line, each fsync'ed before the writer goes on.
/// </summary>
public static class CheckpointFile
{
    public const string DefaultRelativePath = "checkpoints/entry-log.checkpoints.jsonl";

    /// <summary>The file's place in a data folder.</summary>
    public static string PathIn(string dataDirectory) => System.IO.Path.Combine(dataDirectory, DefaultRelativePath);

    /// <summary>
    /// Appends one line and flushes it to the disk (fsync). Creates the folder and file as needed (owner read/write).
    /// A write that fails (a full disk) leaves the file as it was, not with part of the line: the caller retries later.
    /// </summary>
    public static void Append(string path, LogCheckpoint checkpoint)
    {
        OwnerOnly.CreateFolderOf(path);
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 0 };
        if (!OperatingSystem.IsWindows() && !File.Exists(path))
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        if (File.Exists(path))
        {
            CutTornTail(path);
        }

        using var stream = new FileStream(path, options);
        var end = stream.Length;
        try
        {
            stream.Write(Encoding.UTF8.GetBytes(checkpoint.ToJsonLine() + "\n"));
            stream.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            // ENOSPC can come after part of the line was written (the rest of the last page had room): the retry would
            // append a whole line behind that part, and the file would hold a line that is no checkpoint.
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
            RandomAccess.SetLength(handle, end);
            throw;
        }
    }

    /// <summary>
    /// A file that does not end with a newline was cut in the middle of an append (the process killed, the machine off):
    /// the part after the last newline is no checkpoint, and the line appended next would be glued to it. It is cut
    /// off; the checkpoint it was is still in the database, and the writer files it again (see
    /// <c>EntryLogWriter.FileMissingCheckpoints</c>).
    /// </summary>
    private static void CutTornTail(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        var tail = new byte[(int)Math.Min(length, 8192)];
        var read = RandomAccess.Read(handle, tail, length - tail.Length);
        if (read == 0 || tail[read - 1] == (byte)'\n')
        {
            return;
        }

        // A checkpoint line is a few hundred bytes: no newline in the last 8 KiB of a longer file is not a torn append
        // but something else, left for verify to report.
        var lastNewline = Array.LastIndexOf(tail, (byte)'\n', read - 1);
        if (lastNewline >= 0 || length <= tail.Length)
        {
            RandomAccess.SetLength(handle, length - read + lastNewline + 1);
        }
    }

    /// <summary>Every line of the file in order: a checkpoint, or the 1-based line number and why it is not one.</summary>
    public static IReadOnlyList<(int Line, LogCheckpoint? Checkpoint, string? Error)> ReadAll(string path)
    {
        var result = new List<(int, LogCheckpoint?, string?)>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            var (checkpoint, error) = LogCheckpoint.Parse(line);
            result.Add((number, checkpoint, error));
        }

        return result;
    }

    /// <summary>The last checkpoint in the file (read from its end), or null when there is none or the file is absent.</summary>
    public static LogCheckpoint? ReadLast(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var start = Math.Max(0, stream.Length - 8192);
        stream.Seek(start, SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            if (LogCheckpoint.Parse(lines[i]).Checkpoint is { } checkpoint)
            {
                return checkpoint;
            }
        }

        return null;
    }
}
