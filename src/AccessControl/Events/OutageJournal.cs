using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using AccessControl.EntryLog;
using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// The rows of an entry-log outage (<see cref="LateRows"/>) on disk, so that a service that dies or is restarted while
/// the log cannot be written does not lose the denies the readers heard, the door events and the alarms of that time.
/// </summary>
/// <remarks>
/// <para>
/// One file in the data folder (<see cref="FileName"/>), of a fixed size taken when it is created: its space is
/// allocated up front, so it can still be written when the filesystem is full, which is the outage it is for. Writes
/// stay inside that size and never extend the file.
/// </para>
/// <para>
/// Layout: a sequence of records from offset 0, each a 4-byte little-endian length, a 16-byte tag (HMAC-SHA256 of the
/// payload, truncated) and the payload (UTF-8 JSON), then a 4-byte zero that ends the sequence (each write carries it,
/// and the next record overwrites it). The first record is the header (the outage's id, since when, the first error,
/// the log's last row then), the others are rows. A torn, damaged or altered record ends the sequence: what follows it
/// is not trusted. An empty journal starts with a zero length.
/// </para>
/// <para>
/// The tag's key is derived from the log signing key (<see cref="EntryLog.LogSigningKey.DeriveKey"/>): rows taken back
/// from the journal enter the hash chain as the service's own, so without it anyone who could write the data folder
/// could have the service chain rows of their making. With it, that takes the signing key, as forging a checkpoint does.
/// </para>
/// <para>
/// Written by the pipeline's thread only: once per failed batch, with one <c>fsync</c>, before its denies are published.
/// Emptied once the rows are committed to the log. The outage row the log gets then names the journal's id, so a
/// service that died between that commit and the emptying recognises the rows as written (<see cref="Header.Id"/>).
/// </para>
/// </remarks>
public sealed class OutageJournal : IDisposable
{
    /// <summary>The journal's file name in the data folder.</summary>
    public const string FileName = "entry-log.outage";

    /// <summary>The default size: about 50,000 rows of a few hundred bytes, what <see cref="PipelineOptions.LateRowsCapacity"/> holds by default.</summary>
    public const long DefaultSize = 16L * 1024 * 1024;

    private const int LengthBytes = 4;
    private const int TagBytes = 16;
    private const int RecordOverhead = LengthBytes + TagBytes;

    /// <summary>What the tag's key is derived for (HKDF info).</summary>
    public const string KeyPurpose = "accesscontrol outage journal v1";

    private readonly FileStream file;
    private readonly byte[] key;
    private long end;

    private OutageJournal(FileStream file, byte[] key, Contents contents, long end)
    {
        this.file = file;
        this.key = key;
        this.end = end;
        Found = contents;
    }

    /// <summary>The journal's path.</summary>
    public string Path => file.Name;

    /// <summary>What the journal held when it was opened: rows of an outage the service did not live to write (usually none).</summary>
    public Contents Found { get; private set; }

    /// <summary>Whether the journal holds an outage (a header has been written since it was last emptied).</summary>
    public bool InUse => end > 0;

    /// <summary>
    /// Where a journal was moved to that began with a record that does not authenticate (a crash during its first write,
    /// or an alteration), so that it can be looked at; null when there was none.
    /// </summary>
    public string? SetAside { get; private init; }

    /// <summary>
    /// Opens the journal at <paramref name="path"/>, or creates it with <paramref name="size"/> bytes allocated; its
    /// records are tagged with <paramref name="key"/> (32 bytes). Throws <see cref="IOException"/> when it cannot be
    /// created (no room for it) or read.
    /// </summary>
    public static OutageJournal Open(string path, byte[] key, long size = DefaultSize)
    {
        if (key.Length < 32)
        {
            throw new ArgumentException("The outage journal's key must be at least 32 bytes.", nameof(key));
        }

        if (size < 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "The outage journal needs at least 4096 bytes.");
        }

        string? aside = null;
        while (true)
        {
            if (!File.Exists(path))
            {
                Create(path, size);
            }

            var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.ReadWrite, Share = FileShare.Read });
            try
            {
                var (contents, end) = ReadAll(file, key);
                if (end > 0 || aside is not null || !StartsWithRecord(file))
                {
                    return new OutageJournal(file, key, contents, end) { SetAside = aside };
                }
            }
            catch
            {
                file.Dispose();
                throw;
            }

            // A first record that does not authenticate: kept whole for someone to look at, and a new journal made.
            file.Dispose();
            aside = $"{path}.unreadable-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
            File.Move(path, aside);
        }
    }

    /// <summary>
    /// What the journal at <paramref name="path"/> holds, read without changing or creating anything and without its
    /// key (for <c>log verify</c>, which has only the public key; with the service running or not): the records are
    /// counted by their structure, not authenticated. <see cref="Contents.Empty"/> when there is no journal.
    /// </summary>
    public static Contents Peek(string path)
    {
        if (!File.Exists(path))
        {
            return Contents.Empty;
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return ReadAll(file, key: null).Contents;
    }

    /// <summary>
    /// Writes the rows behind those already in the journal (after a header for <paramref name="outage"/> when the
    /// journal is empty) and syncs the file. Returns how many rows it took: fewer than given when the journal is full.
    /// Throws <see cref="IOException"/> when the file cannot be written; then the journal is as it was.
    /// </summary>
    public int Append(Header outage, IReadOnlyList<LogEntry> rows)
    {
        using var buffer = new MemoryStream();
        var at = end;
        if (at == 0)
        {
            WriteRecord(buffer, Serialize(outage), key);
        }

        var taken = 0;
        foreach (var row in rows)
        {
            var payload = Serialize(row);
            if (at + buffer.Length + RecordOverhead + payload.Length + LengthBytes > file.Length)
            {
                break;
            }

            WriteRecord(buffer, payload, key);
            taken++;
        }

        if (buffer.Length == 0)
        {
            return 0;
        }

        buffer.Write(stackalloc byte[LengthBytes]);
        file.Position = at;
        file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
        file.Flush(flushToDisk: true);
        end = at + buffer.Length - LengthBytes;
        return taken;
    }

    /// <summary>Empties the journal (its rows are in the log now) and syncs it. Throws <see cref="IOException"/> when it cannot.</summary>
    public void Clear()
    {
        file.Position = 0;
        file.Write(stackalloc byte[LengthBytes]);
        file.Flush(flushToDisk: true);
        end = 0;
        Found = Contents.Empty;
    }

    public void Dispose() => file.Dispose();

    /// <summary>Creates the file with all of its space allocated (zeros), under a temporary name first, so that a journal never exists half made.</summary>
    private static void Create(string path, long size)
    {
        var temporary = path + ".new";
        try
        {
            // Owner-only, like the key files: the rows carry card numbers and person ids outside the database.
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, PreallocationSize = size };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                // The allocation gives blocks, not written ones: zeros are written so that no later write has to
                // convert them (which can need metadata blocks a full filesystem no longer has).
                var zeros = new byte[1024 * 1024];
                for (long written = 0; written < size; written += zeros.Length)
                {
                    stream.Write(zeros, 0, (int)Math.Min(zeros.Length, size - written));
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Whether the file begins with a record's length (not the zero of an empty journal).</summary>
    private static bool StartsWithRecord(FileStream file)
    {
        Span<byte> length = stackalloc byte[LengthBytes];
        file.Position = 0;
        return file.Read(length) == LengthBytes && BinaryPrimitives.ReadInt32LittleEndian(length) != 0;
    }

    /// <summary>The records up to the first that is not whole (or, given a key, does not authenticate), and where they end.</summary>
    private static (Contents Contents, long End) ReadAll(FileStream file, byte[]? key)
    {
        // An empty journal (every start but one after an outage) is known from its first bytes, not read whole.
        if (!StartsWithRecord(file))
        {
            return (Contents.Empty, 0);
        }

        var data = new byte[file.Length];
        file.Position = 0;
        file.ReadExactly(data);
        var records = new List<byte[]>();
        var at = 0L;
        while (TryReadRecord(data, at, key, out var payload))
        {
            records.Add(payload);
            at += RecordOverhead + payload.Length;
        }

        if (records.Count == 0)
        {
            return (Contents.Empty, 0);
        }

        try
        {
            var header = DeserializeHeader(records[0]);
            var rows = records.Skip(1).Select(DeserializeRow).ToList();
            return (new Contents(header, rows), at);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            throw new IOException($"The outage journal {file.Name} holds a record that checks out but cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>The record at <paramref name="at"/>, if it is whole and (given a key) its tag is right.</summary>
    private static bool TryReadRecord(byte[] data, long at, byte[]? key, out byte[] payload)
    {
        payload = [];
        if (at + RecordOverhead > data.Length)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan((int)at, LengthBytes));
        if (length <= 0 || at + RecordOverhead + length > data.Length)
        {
            return false;
        }

        var body = data.AsSpan((int)at + RecordOverhead, length);
        if (key is not null && !CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(key, body).AsSpan(0, TagBytes), data.AsSpan((int)at + LengthBytes, TagBytes)))
        {
            return false;
        }

        payload = body.ToArray();
        return true;
    }

    private static void WriteRecord(MemoryStream buffer, byte[] payload, byte[] key)
    {
        Span<byte> head = stackalloc byte[RecordOverhead];
        BinaryPrimitives.WriteInt32LittleEndian(head, payload.Length);
        HMACSHA256.HashData(key, payload).AsSpan(0, TagBytes).CopyTo(head[LengthBytes..]);
        buffer.Write(head);
        buffer.Write(payload);
    }

    private static byte[] Serialize(Header header)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("journal", header.Id);
            json.WriteNumber("since", header.Since.ToUnixTimeTicks());
            json.WriteString("error", header.Error);
            json.WriteNumber("logHead", header.LogHead);
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static Header DeserializeHeader(byte[] payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        return new Header(root.GetProperty("journal").GetString()!, Instant.FromUnixTimeTicks(root.GetProperty("since").GetInt64()), root.GetProperty("error").GetString(),
            root.GetProperty("logHead").GetInt64());
    }

    private static byte[] Serialize(LogEntry row)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteNumber("at", row.At.ToUnixTimeTicks());
            json.WriteString("kind", row.Kind);
            Optional(json, "siteId", row.SiteId);
            Optional(json, "readerId", row.ReaderId);
            Optional(json, "doorId", row.DoorId);
            Optional(json, "zoneId", row.ZoneId);
            Optional(json, "personId", row.PersonId);
            Optional(json, "card", row.Card);
            Optional(json, "source", row.Source);
            Optional(json, "eventId", row.EventId);
            if (row.DeviceSeq is { } seq)
            {
                json.WriteNumber("deviceSeq", seq);
            }

            if (row.DeviceAt is { } deviceAt)
            {
                json.WriteNumber("deviceAt", deviceAt.ToUnixTimeTicks());
            }

            json.WriteBoolean("offline", row.Offline);
            Optional(json, "decision", row.Decision);
            Optional(json, "reason", row.Reason);
            if (row.UnlockSeconds is { } unlock)
            {
                json.WriteNumber("unlockSeconds", unlock);
            }

            Optional(json, "actor", row.Actor);
            Optional(json, "detail", row.Detail);
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static LogEntry DeserializeRow(byte[] payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        string? Text(string name) => root.TryGetProperty(name, out var value) ? value.GetString() : null;
        return new LogEntry
        {
            At = Instant.FromUnixTimeTicks(root.GetProperty("at").GetInt64()),
            Kind = root.GetProperty("kind").GetString()!,
            SiteId = Text("siteId"),
            ReaderId = Text("readerId"),
            DoorId = Text("doorId"),
            ZoneId = Text("zoneId"),
            PersonId = Text("personId"),
            Card = Text("card"),
            Source = Text("source"),
            EventId = Text("eventId"),
            DeviceSeq = root.TryGetProperty("deviceSeq", out var seq) ? seq.GetInt64() : null,
            DeviceAt = root.TryGetProperty("deviceAt", out var deviceAt) ? Instant.FromUnixTimeTicks(deviceAt.GetInt64()) : null,
            Offline = root.GetProperty("offline").GetBoolean(),
            Decision = Text("decision"),
            Reason = Text("reason"),
            UnlockSeconds = root.TryGetProperty("unlockSeconds", out var unlock) ? unlock.GetInt32() : null,
            Actor = Text("actor"),
            Detail = Text("detail"),
        };
    }

    private static void Optional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    /// <summary>
    /// An outage as the journal's header records it: its id (named by the outage row), when it began, its first error, and
    /// the log's last row when it began (the outage row, once written, comes after it).
    /// </summary>
    public sealed record Header(string Id, Instant Since, string? Error, long LogHead);

    /// <summary>What a journal holds: an outage's header and its rows, or nothing.</summary>
    public sealed record Contents(Header? Outage, IReadOnlyList<LogEntry> Rows)
    {
        public static Contents Empty { get; } = new(null, []);
    }
}

/// <summary>Whether the outage journal (<see cref="OutageJournal"/>) is there to keep an entry-log outage's rows across a restart.</summary>
public enum OutageJournalState
{
    Open,

    /// <summary>Turned off (<c>Pipeline:OutageJournalBytes</c> 0).</summary>
    Off,

    /// <summary>It could not be made or opened at start (no room for it, say), nor since: it is tried again while the service runs.</summary>
    Unavailable,
}
