using System.Buffers;
using System.Text;
using AccessControl.Protocol;
using NodaTime;

namespace AccessControl.Tests.Protocol;

/// <summary>
/// Generated hostile payloads from a fixed seed: none makes a parser throw, and each either parses to an event whose
/// invariants hold or fails with an error message.
/// </summary>
[Trait("control", "NIST-SI-10")]
public class WireFormatFuzzTests
{
    [Fact]
    public void Parsers_ThousandsOfHostilePayloads_NeverThrow_AndEitherParseValidOrSayWhy()
    {
        var counts = new Dictionary<string, int>();
        foreach (var payload in WireFuzz.Payloads(seed: 20261201, count: 6000))
        {
            var sequence = new ReadOnlySequence<byte>(payload);
            Check(WireFormat.ParseReaderEvent(sequence), ReaderInvariants, counts, "reader");
            Check(WireFormat.ParseDoorEvent(sequence), d => Assert.True(WireFormat.IsValidId(d.EventId) && d.Seq >= 0), counts, "door");
            Check(WireFormat.ParseDeviceStatus(sequence), _ => { }, counts, "status");
        }

        Assert.True(counts.GetValueOrDefault("reader-ok") > 0, "the generator should produce some valid reader events");
        Assert.True(counts.GetValueOrDefault("reader-fail") > 3000);
    }

    private static void ReaderInvariants(ReaderEvent e)
    {
        Assert.True(WireFormat.IsValidId(e.EventId));
        Assert.True(e.Seq >= 0);
        if (e.Type == ReaderEventType.Card)
        {
            Assert.NotNull(e.Card);
            Assert.Equal(e.Card, People.CardUid.Normalize(e.Card));
            Assert.Matches("^[0-9A-F]{2,32}$", e.Card);
            Assert.True(People.CardUid.IsTechnologyToken(e.Technology));
        }

        Assert.True(e.Detail is null || e.Detail.Length <= 256);
    }

    private static void Check<T>(WireResult<T> result, Action<T> invariants, Dictionary<string, int> counts, string kind)
        where T : class
    {
        if (result.Success)
        {
            invariants(result.Value!);
            counts[kind + "-ok"] = counts.GetValueOrDefault(kind + "-ok") + 1;
        }
        else
        {
            Assert.False(string.IsNullOrWhiteSpace(result.Error));
            Assert.True(result.EventId is null || WireFormat.IsValidId(result.EventId));
            counts[kind + "-fail"] = counts.GetValueOrDefault(kind + "-fail") + 1;
        }
    }
}

/// <summary>A deterministic generator of hostile wire payloads (also used by the end-to-end fuzz test).</summary>
public static class WireFuzz
{
    private static readonly string[] OddIds =
    [
        "\\ud800", "\\udfff", "a\\u0000b", "\\u202eevil", "a\\u200db", "e\\u0301", "\\uFEFFid", "id\\n", "Ωmega", "../../etc", "a b", new string('x', 65), "",
    ];

    private static readonly string[] Members = ["eventId", "seq", "at", "type", "card", "technology", "offline", "detail", "state", "requestId", "score"];

    private static readonly string[] WrongValues = ["null", "true", "1.5", "-1", "1e300", "\"\"", "[]", "{}", "\"x\"", "18446744073709551616", "[[[[]]]]"];

    /// <summary>Payloads from <paramref name="seed"/>: random bytes, truncations and byte flips of valid events, deep nesting, wrong types, huge strings, oversized payloads, odd Unicode.</summary>
    public static IEnumerable<byte[]> Payloads(int seed, int count, Instant? at = null)
    {
        var random = new Random(seed);
        var now = at ?? Instant.FromUtc(2026, 12, 1, 9, 0);
        for (var i = 0; i < count; i++)
        {
            var valid = Valid(random, i, now);
            yield return (i % 10) switch
            {
                0 => RandomBytes(random),
                1 => valid[..random.Next(valid.Length + 1)],
                2 => Flip(random, valid),
                3 => Encoding.UTF8.GetBytes(new string('[', 8 + random.Next(2000)) + new string(']', random.Next(3))),
                4 => Encoding.UTF8.GetBytes(WrongType(random, Encoding.UTF8.GetString(valid))),
                5 => Encoding.UTF8.GetBytes($"{{\"eventId\":\"f-{i}\",\"seq\":{i},\"at\":\"{WireFormat.FormatInstant(now)}\",\"type\":\"card\",\"card\":\"04A1\",\"technology\":\"desfire-ev3\",\"detail\":\"{new string('d', random.Next(200, 5000))}\"}}"),
                6 => [.. valid, .. Encoding.UTF8.GetBytes(new string(' ', 4096))],
                7 => Encoding.UTF8.GetBytes($"{{\"eventId\":\"{OddIds[random.Next(OddIds.Length)]}\",\"seq\":{i},\"at\":\"{WireFormat.FormatInstant(now)}\",\"type\":\"card\",\"card\":\"04A1B2\",\"technology\":\"desfire-ev3\"}}"),
                8 => Overlong(random, valid),
                _ => random.Next(4) == 0 ? valid : Encoding.UTF8.GetBytes(Nest(random, Encoding.UTF8.GetString(valid))),
            };
        }
    }

    private static byte[] Valid(Random random, int i, Instant now)
    {
        var at = now + Duration.FromSeconds(random.Next(-30, 30));
        return random.Next(3) switch
        {
            0 => WireFormat.Write(new ReaderEvent($"fz-{i}", 1_000_000 + i, at, ReaderEventType.Card, "04" + random.Next().ToString("X8"), "desfire-ev3", false, null)),
            1 => WireFormat.Write(new DoorEvent($"fz-{i}", 1_000_000 + i, at, DoorEventType.Closed, false)),
            _ => WireFormat.Write(new DeviceStatus(DeviceState.Online, at, "fw-1")),
        };
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(1, 600)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Flip(Random random, byte[] valid)
    {
        var copy = (byte[])valid.Clone();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        }

        return copy;
    }

    private static string WrongType(Random random, string json)
    {
        var member = Members[random.Next(Members.Length)];
        var value = WrongValues[random.Next(WrongValues.Length)];
        var start = json.IndexOf($"\"{member}\":", StringComparison.Ordinal);
        if (start < 0)
        {
            return json.Insert(1, $"\"{member}\":{value},");
        }

        var valueStart = start + member.Length + 3;
        var end = json[valueStart] == '"' ? json.IndexOf('"', valueStart + 1) + 1 : json.IndexOfAny([',', '}'], valueStart);
        return json[..valueStart] + value + json[end..];
    }

    private static string Nest(Random random, string json)
    {
        // Balanced nesting under an unknown member: shallow is tolerated, beyond the parser's max depth (8) it is refused.
        var depth = random.Next(1, 20);
        return json.Insert(1, "\"x\":" + string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth) + ",");
    }

    private static byte[] Overlong(Random random, byte[] valid)
    {
        // '/' as the overlong two-byte form C0 AF, and a lone continuation byte, inside a string value.
        var text = Encoding.UTF8.GetString(valid);
        var quote = text.IndexOf("\":\"", StringComparison.Ordinal);
        if (quote < 0)
        {
            return [0xC0, 0xAF, .. valid];
        }

        var insert = Encoding.UTF8.GetByteCount(text[..(quote + 3)]);
        byte[] bad = random.Next(2) == 0 ? [0xC0, 0xAF] : [0x80];
        return [.. valid[..insert], .. bad, .. valid[insert..]];
    }
}
