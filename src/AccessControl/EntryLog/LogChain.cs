using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using SQLitePCL;

namespace AccessControl.EntryLog;

/// <summary>
/// The entry log's hash chain, version 1: <c>hash(row) = SHA-256(hash(previous row) || encoding(row))</c>, starting from
/// 32 zero bytes. The encoding is canonical and unambiguous (a type tag and, for text, a length before every value) so
/// that no two different rows encode alike, and it is documented in docs/log-integrity.md so that an auditor can
/// re-implement the check without this code.
/// </summary>
/// <remarks>
/// Values are encoded as SQLite stores them (its storage class), not as the C# type says: the verifier hashes what is
/// in the file, so a value whose type was changed (text "5" for the integer 5) no longer matches.
/// Not thread-safe: each writer or verifier owns one instance (it reuses its buffer, so a row costs no allocation
/// beyond its 32-byte hash).
/// </remarks>
public sealed class LogChain
{
    public const int HashSize = 32;

    /// <summary>The chain's version tag, the first bytes of every encoded row.</summary>
    public const string Version1 = "ac-entry-log:v1";

    /// <summary>
    /// The columns hashed, in order: every column of <c>entry_log</c> except <c>hash</c> itself. A new column would
    /// need a new version.
    /// </summary>
    public const string Columns =
        "seq, at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id, device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail";

    public const int ColumnCount = 19;

    internal const byte NullTag = 0x00;
    internal const byte IntegerTag = 0x01;
    internal const byte RealTag = 0x02;
    internal const byte TextTag = 0x03;
    internal const byte BlobTag = 0x04;

    private static readonly byte[] VersionTag = Encoding.ASCII.GetBytes(Version1);

    private byte[] buffer = new byte[1024];
    private int length;

    /// <summary>The hash the first row chains from.</summary>
    public static byte[] Start => new byte[HashSize];

    /// <summary>
    /// The chain hash of a row given as its <see cref="ColumnCount"/> values in <see cref="Columns"/> order: null or
    /// <see cref="DBNull"/>, an integer (<see cref="long"/> or <see cref="int"/>), <see cref="double"/>, <see cref="string"/>
    /// or <see cref="byte"/>[].
    /// </summary>
    public byte[] Hash(ReadOnlySpan<byte> previous, ReadOnlySpan<object?> values)
    {
        if (previous.Length != HashSize)
        {
            throw new ArgumentException($"The previous hash must be {HashSize} bytes.", nameof(previous));
        }

        if (values.Length != ColumnCount)
        {
            throw new ArgumentException($"A row has {ColumnCount} values.", nameof(values));
        }

        Begin(previous);
        foreach (var value in values)
        {
            switch (value)
            {
                case null or DBNull:
                    PutByte(NullTag);
                    break;
                case long l:
                    PutInteger(l);
                    break;
                case int i:
                    PutInteger(i);
                    break;
                case double d:
                    PutReal(d);
                    break;
                case string s:
                    PutText(s);
                    break;
                case byte[] b:
                    PutByte(BlobTag);
                    PutLength(b.Length);
                    Put(b);
                    break;
                default:
                    throw new ArgumentException($"A log value of type {value.GetType().Name} has no canonical encoding.", nameof(values));
            }
        }

        return SHA256.HashData(buffer.AsSpan(0, length));
    }

    /// <summary>
    /// The chain hash of the row <paramref name="row"/> is on, its first <see cref="ColumnCount"/> columns taken as SQLite
    /// stores them, written to <paramref name="hash"/>: the same bytes as
    /// <see cref="Hash(ReadOnlySpan{byte}, ReadOnlySpan{object?})"/> of the values a data reader reads from that row.
    /// </summary>
    /// <remarks>
    /// The verifier's walk: a data reader boxes every value and makes a string or array of every text and blob, about a
    /// kilobyte a row, and the collections that garbage causes on a large log stop every thread of the service. This reads
    /// the row's bytes in place. A text that is not valid UTF-8 (only a hand-edited file has one) is hashed as the data
    /// reader reads it, each invalid sequence a U+FFFD, so that both ways agree on every file.
    /// </remarks>
    internal void Hash(ReadOnlySpan<byte> previous, LogPass row, Span<byte> hash)
    {
        if (previous.Length != HashSize)
        {
            throw new ArgumentException($"The previous hash must be {HashSize} bytes.", nameof(previous));
        }

        Begin(previous);
        for (var column = 0; column < ColumnCount; column++)
        {
            switch (row.StorageClass(column))
            {
                case raw.SQLITE_NULL:
                    PutByte(NullTag);
                    break;
                case raw.SQLITE_INTEGER:
                    PutInteger(row.GetInt64(column));
                    break;
                case raw.SQLITE_FLOAT:
                    PutReal(row.GetDouble(column));
                    break;
                case raw.SQLITE_TEXT:
                    var utf8 = row.GetUtf8(column);
                    if (Utf8.IsValid(utf8))
                    {
                        PutByte(TextTag);
                        PutLength(utf8.Length);
                        Put(utf8);
                    }
                    else
                    {
                        PutText(Encoding.UTF8.GetString(utf8));
                    }

                    break;
                default:
                    var blob = row.GetBlob(column);
                    PutByte(BlobTag);
                    PutLength(blob.Length);
                    Put(blob);
                    break;
            }
        }

        SHA256.HashData(buffer.AsSpan(0, length), hash);
    }

    private void Begin(ReadOnlySpan<byte> previous)
    {
        length = 0;
        Put(previous);
        Put(VersionTag);
    }

    private void PutText(string s)
    {
        PutByte(TextTag);
        PutLength(Encoding.UTF8.GetByteCount(s));
        Ensure(Encoding.UTF8.GetMaxByteCount(s.Length));
        length += Encoding.UTF8.GetBytes(s, buffer.AsSpan(length));
    }

    private void PutReal(double value)
    {
        PutByte(RealTag);
        Ensure(8);
        BinaryPrimitives.WriteDoubleBigEndian(buffer.AsSpan(length), value);
        length += 8;
    }

    private void PutInteger(long value)
    {
        PutByte(IntegerTag);
        Ensure(8);
        BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(length), value);
        length += 8;
    }

    private void PutLength(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(length), (uint)value);
        length += 4;
    }

    private void PutByte(byte value)
    {
        Ensure(1);
        buffer[length++] = value;
    }

    private void Put(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(buffer.AsSpan(length));
        length += bytes.Length;
    }

    private void Ensure(int more)
    {
        if (length + more > buffer.Length)
        {
            Array.Resize(ref buffer, Math.Max(buffer.Length * 2, length + more));
        }
    }
}
