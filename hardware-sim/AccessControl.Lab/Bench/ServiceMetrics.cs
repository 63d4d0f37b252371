using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Events;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.Lab.Bench;

/// <summary>
/// Reads the service's own stage latencies (<c>GET /api/v1/metrics/pipeline</c>) so the bench can say where the
/// decision round trip's time went: the queue, the durable commit, all the service adds, and the broker's PUBACK.
/// The service's histograms are cumulative; the bench reads them before and after a phase and reports the difference.
/// </summary>
internal sealed class ServiceMetrics : IDisposable
{
    private readonly HttpClient http;

    private ServiceMetrics(HttpClient http) => this.http = http;

    /// <summary>From the service's ready line (<c>... HTTP http://127.0.0.1:PORT/, database ...</c>) and its database (for an auditor token).</summary>
    public static ServiceMetrics Connect(string readyLine, string databasePath, IClock clock)
    {
        var start = readyLine.IndexOf("HTTP ", StringComparison.Ordinal) + 5;
        var end = readyLine.IndexOf(", ", start, StringComparison.Ordinal);
        var address = new Uri(readyLine[start..end].Trim());
        // A token names a known person: the demo site's NOC shift lead, who runs the bench.
        var token = new ApiTokens(new Database(databasePath), clock).CreateToken("aclab-bench", OperatorRole.Auditor, "aclab bench", "p-mkoch");
        // No client timeout: a verification of a large log (--verify-load) takes as long as it takes.
        var http = new HttpClient { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new ServiceMetrics(http);
    }

    /// <summary>
    /// An auditor who asks for <c>GET /api/v1/log/verify</c> again as soon as each answer comes, until
    /// <paramref name="cancellationToken"/>: the verifications answered (a request cut off by the end is not counted).
    /// </summary>
    public async Task<int> VerifyLogUntilAsync(CancellationToken cancellationToken)
    {
        var answered = 0;
        try
        {
            while (true)
            {
                using var response = await http.GetAsync("/api/v1/log/verify", cancellationToken);
                response.EnsureSuccessStatusCode();
                answered++;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return answered;
        }
    }

    public async Task<(PipelineMetricsSnapshot Metrics, double CpuMs, RuntimeReading Runtime)> ReadAsync(CancellationToken cancellationToken)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync("/api/v1/metrics/pipeline", cancellationToken));
        var root = document.RootElement;
        var metrics = new PipelineMetricsSnapshot(Stage(root, "queueWait"), Stage(root, "commit"), Stage(root, "decision"), Stage(root, "publishAck"),
            root.GetProperty("batches").GetInt64(), root.GetProperty("rows").GetInt64());
        var gc = root.GetProperty("gc");
        return (metrics, root.GetProperty("processCpuMs").GetDouble(),
            new RuntimeReading(gc.GetProperty("gen0").GetInt32(), gc.GetProperty("gen1").GetInt32(), gc.GetProperty("totalPauseMs").GetDouble(), gc.GetProperty("allocatedMb").GetInt64(),
                gc.GetProperty("lastEphemeralPauseMs").GetDouble(), gc.GetProperty("lastEphemeralPromotedKb").GetInt64(),
                root.GetProperty("jit").GetProperty("methods").GetInt64(), root.GetProperty("jit").GetProperty("compileMs").GetDouble()));
    }

    /// <summary>One line for a phase: the window between two readings, and the service's CPU time per decision in it.</summary>
    public static string Format((PipelineMetricsSnapshot Metrics, double CpuMs, RuntimeReading Runtime) before, (PipelineMetricsSnapshot Metrics, double CpuMs, RuntimeReading Runtime) after)
    {
        var window = after.Metrics.Since(before.Metrics);
        return string.Format(CultureInfo.InvariantCulture,
            "    inside the service: queue p50 {0:0.000} p99 {1:0.000} | commit p50 {2:0.000} p99 {3:0.000} ({4:0.0} rows each) | " +
            "event to decision sent p50 {5:0.000} p99 {6:0.000} | PUBACK p50 {7:0.000} p99 {8:0.000} ms | CPU {9:0} us per decision | " +
            "GC: {10} collections, {11:0.0} ms paused (last {12:0.0} ms, {13} KB promoted), {14} MB allocated | JIT: {15} methods, {16:0.0} ms",
            window.QueueWait.Percentile(0.5), window.QueueWait.Percentile(0.99), window.Commit.Percentile(0.5), window.Commit.Percentile(0.99),
            window.Batches == 0 ? 0 : (double)window.Rows / window.Batches, window.Decision.Percentile(0.5), window.Decision.Percentile(0.99),
            window.PublishAck.Percentile(0.5), window.PublishAck.Percentile(0.99),
            window.Decision.Count == 0 ? 0 : (after.CpuMs - before.CpuMs) * 1000 / window.Decision.Count,
            after.Runtime.Collections - before.Runtime.Collections, after.Runtime.PauseMs - before.Runtime.PauseMs, after.Runtime.LastPauseMs, after.Runtime.LastPromotedKb,
            after.Runtime.AllocatedMb - before.Runtime.AllocatedMb, after.Runtime.JitMethods - before.Runtime.JitMethods, after.Runtime.JitMs - before.Runtime.JitMs);
    }

    public void Dispose() => http.Dispose();

    public sealed record RuntimeReading(int Collections, int Gen1Collections, double PauseMs, long AllocatedMb, double LastPauseMs, long LastPromotedKb, long JitMethods, double JitMs);

    private static HistogramSnapshot Stage(JsonElement root, string name)
    {
        var stage = root.GetProperty(name);
        var buckets = stage.GetProperty("buckets").EnumerateArray().Select(b => (b.GetProperty("le").GetInt64(), b.GetProperty("count").GetInt64())).ToList();
        return HistogramSnapshot.FromBuckets(buckets, (long)(stage.GetProperty("maxMs").GetDouble() * 1000));
    }
}
