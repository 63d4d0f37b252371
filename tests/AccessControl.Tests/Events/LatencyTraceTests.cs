using System.Diagnostics;
using AccessControl.Events;
using AccessControl.Lab.Bench;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Events;

public class LatencyTraceTests
{
    [Fact]
    public async Task WithATraceFile_EachAnsweredSwipe_GetsALine_WithItsReaderEventIdAndStampsInPathOrder()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-trace-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, "trace.tsv");
        try
        {
            var before = Stopwatch.GetTimestamp();
            var answers = new List<AccessControl.Protocol.DecisionMessage>();
            await using (var edge = await EdgeHarness.StartAsync(configure: s => s with { Pipeline = s.Pipeline with { TraceFile = file } }))
            {
                var reader = await edge.ReaderAsync("rdr-lobby-in");
                answers.Add(await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout));
                answers.Add(await reader.PresentCardAsync(Unknown, Ev3).WaitAsync(EdgeHarness.Timeout));
            }

            var after = Stopwatch.GetTimestamp();
            // What ran beside the decisions (periodic jobs, collections) is in the same file, as span lines.
            var lines = File.ReadAllLines(file).Where(l => LatencyTrace.ParseSpan(l) is null).Select(LatencyTrace.Parse).ToList();

            Assert.All(lines, Assert.NotNull);
            Assert.Equal(answers.Select(a => a.EventId), lines.Select(l => l!.EventId));
            Assert.All(lines, l =>
            {
                Assert.Equal("rdr-lobby-in", l!.ReaderId);
                Assert.InRange(l.Received, before, l.CommitStarted);
                Assert.InRange(l.CommitStarted, l.Received, l.Committed);
                Assert.InRange(l.Handed, l.Committed, after);
            });
            Assert.DoesNotContain(Operator, File.ReadAllText(file));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void ATraceThatCannotBeWritten_StopsWithItsError_AndNeverThrowsIntoThePipeline()
    {
        // /dev/full: every write that reaches it fails with ENOSPC, as on a full disk.
        using var trace = new LatencyTrace("/dev/full");

        trace.Record("rdr-lobby-in", "ev-1", 1, 2, 3, 4);
        trace.Flush();
        trace.Record("rdr-lobby-in", "ev-2", 5, 6, 7, 8);
        trace.Flush();

        Assert.IsAssignableFrom<IOException>(trace.Error);
    }

    [Fact]
    public void Span_IsReadBackAsASpan_AndNeverAsADecision()
    {
        var file = Path.Combine(Path.GetTempPath(), "ac-trace-" + Guid.NewGuid().ToString("N")[..12] + ".tsv");
        try
        {
            using (var trace = new LatencyTrace(file))
            {
                trace.Record("rdr-lobby-in", "ev-1", 1, 2, 3, 4);
                trace.Span("index-round", 10, 25);
            }

            var lines = File.ReadAllLines(file);

            Assert.Equal([new LatencyTrace.Line("rdr-lobby-in", "ev-1", 1, 2, 3, 4), null], lines.Select(LatencyTrace.Parse));
            Assert.Equal([null, new LatencyTrace.SpanLine("index-round", 10, 25)], lines.Select(LatencyTrace.ParseSpan));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Span_AfterTheTraceIsClosed_IsDropped_WithoutAnException()
    {
        var file = Path.Combine(Path.GetTempPath(), "ac-trace-" + Guid.NewGuid().ToString("N")[..12] + ".tsv");
        try
        {
            var trace = new LatencyTrace(file);
            trace.Dispose();

            trace.Span("job:supervision", 1, 2);

            Assert.Empty(File.ReadAllLines(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task GcPauseTrace_WritesAForcedCollection_AsAGcSpan()
    {
        var file = Path.Combine(Path.GetTempPath(), "ac-trace-" + Guid.NewGuid().ToString("N")[..12] + ".tsv");
        try
        {
            var before = Stopwatch.GetTimestamp();
            LatencyTrace.SpanLine pause;
            using (var trace = new LatencyTrace(file))
            using (var pauses = new GcPauseTrace(trace, RealTime.Instance))
            {
                var recorded = new TaskCompletionSource<LatencyTrace.SpanLine>(TaskCreationOptions.RunContinuationsAsynchronously);
                pauses.Recorded += span => recorded.TrySetResult(span);
                GC.Collect();
                pause = await recorded.Task.WaitAsync(TestTimeouts.Signal);
            }

            Assert.Equal("gc", pause.Name);
            Assert.InRange(pause.End, pause.Start, long.MaxValue);
            // Within a few milliseconds of the monotonic clock: the wall-clock stamp is converted, not read late.
            Assert.InRange(pause.Start, before - (Stopwatch.Frequency / 100), Stopwatch.GetTimestamp());
            Assert.Contains(pause, File.ReadAllLines(file).Select(LatencyTrace.ParseSpan));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Beside_CountsTheSlowestOnePercent_ByWhatRanDuringThem_AgainstTheShareOfAllRoundTrips()
    {
        var ms = Stopwatch.Frequency / 1000;
        // 200 round trips of 1 ms, one every 10 ms; two slow ones (1 %): at +500 ms during a collection and an index
        // round, at +1500 ms during nothing. A collection elsewhere is not counted.
        var answered = Enumerable.Range(0, 200).Select(i =>
        {
            var sent = i * 10 * ms;
            return new LatencyBreakdown.Answered("rdr\te" + i, sent, sent + ((i is 50 or 150 ? 6 : 1) * ms));
        }).ToList();
        LatencyTrace.SpanLine[] spans =
        [
            new("gc", 502 * ms, 505 * ms),
            new("index-round", 490 * ms, 520 * ms),
            new("gc", 1000 * ms, 1004 * ms),
        ];

        var text = LatencyBreakdown.Beside(answered, spans);

        // Beside each name, how many of all 200 overlapped it: the collections 2 (round trips 50 and 100), the index round
        // 3 (49, 50 and 51). A cause shows as a share among the slowest well above that.
        Assert.Contains("slowest 1 % beside: gc 1 (1.0 % of all), index-round 1 (1.5 % of all); beside nothing the service ran: 1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RefusesWhatIsNotATraceLine()
    {
        Assert.Null(LatencyTrace.Parse(""));
        Assert.Null(LatencyTrace.Parse("rdr\tev\t1\t2\t3"));
        Assert.Null(LatencyTrace.Parse("rdr\tev\t1\t2\t3\tx"));
        Assert.Null(LatencyTrace.Parse("rdr\tev\t1\t-2\t3\t4"));
        Assert.Equal(new LatencyTrace.Line("rdr", "ev", 1, 2, 3, 4), LatencyTrace.Parse("rdr\tev\t1\t2\t3\t4"));
    }

    [Fact]
    public void Breakdown_JoinsReadersAndServiceByReaderAndEventId_AndSplitsTheRoundTripIntoItsLegs()
    {
        var ms = Stopwatch.Frequency / 1000;
        // Reader sends at 0; service receives at 1 ms, commits 3..7 ms, hands over at 8 ms; reader hears it at 10 ms.
        var answered = new[]
        {
            new LatencyBreakdown.Answered("rdr-a\te1", 0, 10 * ms),
            new LatencyBreakdown.Answered("rdr-b\te1", 0, 2 * ms), // the same eventId from another reader: its own row
            new LatencyBreakdown.Answered("rdr-a\tunknown", 0, 1 * ms), // no trace line: not counted
        };
        var trace = new[]
        {
            new LatencyTrace.Line("rdr-a", "e1", 1 * ms, 3 * ms, 7 * ms, 8 * ms),
            new LatencyTrace.Line("rdr-b", "e1", 0, 0, 1 * ms, 1 * ms),
        };

        var text = LatencyBreakdown.Format(answered, trace);

        Assert.Contains("breakdown of 2 decisions", text);
        var slowest = text.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Contains(slowest, l => l.StartsWith("reader -> service's MQTT client", StringComparison.Ordinal) && l.EndsWith("1.000", StringComparison.Ordinal));
        Assert.Contains(slowest, l => l.StartsWith("waiting for the pipeline", StringComparison.Ordinal) && l.EndsWith("2.000", StringComparison.Ordinal));
        Assert.Contains(slowest, l => l.StartsWith("durable commit of its batch", StringComparison.Ordinal) && l.EndsWith("4.000", StringComparison.Ordinal));
        Assert.Contains(slowest, l => l.StartsWith("answer built and handed over", StringComparison.Ordinal) && l.EndsWith("1.000", StringComparison.Ordinal));
        Assert.Contains(slowest, l => l.StartsWith("service's MQTT client -> reader", StringComparison.Ordinal) && l.EndsWith("2.000", StringComparison.Ordinal));
        Assert.Contains(slowest, l => l.StartsWith("round trip", StringComparison.Ordinal) && l.Contains("10.000", StringComparison.Ordinal));
    }

    [Fact]
    public void Bursts_GroupsTheSlowestOnePercentBySendTime_AndNamesTheLargestBurstFirst()
    {
        var ms = Stopwatch.Frequency / 1000;
        // 300 round trips of 1 ms, one sent every 10 ms; three of them (1 %) slow: two 5 ms apart at +1 s, one at +2 s.
        var answered = Enumerable.Range(0, 300).Select(i =>
        {
            var sent = i * 10 * ms;
            var slow = i switch { 100 => 9, 101 => 7, 200 => 5, _ => 1 };
            return new LatencyBreakdown.Answered("rdr\te" + i, sent, sent + (slow * ms));
        }).ToList();

        var text = LatencyBreakdown.Bursts(answered);

        Assert.Contains("slowest 1 %: 3 round trips in 2 bursts", text, StringComparison.Ordinal);
        Assert.Contains("largest: 2 at +1.000 s (worst 9.0 ms), 1 at +2.000 s (worst 5.0 ms)", text, StringComparison.Ordinal);
    }
}
