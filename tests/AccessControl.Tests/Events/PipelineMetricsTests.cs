using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Events;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Events;

public class LatencyHistogramTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(1_000)]
    [InlineData(999_999)]
    [InlineData(60_000_000)]
    public void EveryValue_FallsInABucketWhoseBoundsHoldIt_WithinThreePercent(long micros)
    {
        var index = LatencyHistogram.IndexOf(micros);
        var upper = LatencyHistogram.UpperMicros(index);
        var lower = index == 0 ? 0 : LatencyHistogram.UpperMicros(index - 1) + 1;

        Assert.InRange(micros, lower, upper);
        Assert.True(upper - lower <= Math.Max(1, micros * 0.032), $"bucket {lower}..{upper} for {micros}");
    }

    [Fact]
    public void Percentiles_AreNearestRank_AndAWindowCountsOnlyWhatCameAfter()
    {
        var histogram = new LatencyHistogram();
        for (var ms = 1; ms <= 100; ms++)
        {
            histogram.Record(TimeSpan.FromMilliseconds(ms));
        }

        var before = histogram.Snapshot();
        for (var i = 0; i < 100; i++)
        {
            histogram.Record(TimeSpan.FromMilliseconds(500));
        }

        var all = histogram.Snapshot();
        var window = all.Since(before);
        var rebuilt = HistogramSnapshot.FromBuckets(window.Buckets(), window.MaxMicros);

        Assert.Equal(200, all.Count);
        Assert.InRange(before.Percentile(0.5), 50 * 0.97, 50 * 1.03);
        Assert.InRange(before.Percentile(0.99), 99 * 0.97, 99 * 1.03);
        Assert.Equal(100, window.Count);
        Assert.InRange(window.Percentile(0.01), 500 * 0.97, 500 * 1.03);
        Assert.Equal(window.Percentile(0.5), rebuilt.Percentile(0.5));
        Assert.Equal(500_000, all.MaxMicros);
    }
}

public class PipelineMetricsApiTests
{
    [Fact]
    [Trait("control", "NIST-AC-6")]
    public async Task Metrics_CountEverySwipeDecided_AndAreReadableByAnAuditorOnly()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        for (var i = 0; i < 3; i++)
        {
            await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        }

        TestPeople.Add(edge.Edge.Database, "p-lee", "p-kai");
        var tokens = new ApiTokens(edge.Edge.Database, edge.Clock);
        using var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.CreateToken("audit-lee", OperatorRole.Auditor, "test", "p-lee"));
        using var json = JsonDocument.Parse(await http.GetStringAsync("/api/v1/metrics/pipeline"));
        using var frontdesk = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        frontdesk.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.CreateToken("desk-kai", OperatorRole.Frontdesk, "test", "p-kai"));
        var refused = await frontdesk.GetAsync("/api/v1/metrics/pipeline");

        var root = json.RootElement;
        Assert.True(root.GetProperty("decision").GetProperty("count").GetInt64() >= 3);
        Assert.True(root.GetProperty("commit").GetProperty("count").GetInt64() >= 1);
        Assert.True(root.GetProperty("rows").GetInt64() >= 3);
        Assert.True(root.GetProperty("decision").GetProperty("p50Ms").GetDouble() > 0);
        Assert.NotEmpty(root.GetProperty("queueWait").GetProperty("buckets").EnumerateArray());
        Assert.True(root.GetProperty("jit").GetProperty("methods").GetInt64() > 0);
        Assert.True(root.GetProperty("jit").GetProperty("compileMs").GetDouble() > 0);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }
}
