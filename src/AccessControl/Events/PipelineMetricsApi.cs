using AccessControl.Admin;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace AccessControl.Events;

/// <summary>
/// <c>GET /api/v1/metrics/pipeline</c> (auditor or admin): the pipeline's stage latencies since the service started,
/// as counts and percentiles in milliseconds. Counts only grow: a monitor (or <c>aclab bench</c>) reads twice and
/// compares; each stage carries its non-empty buckets (<c>le</c>: the bucket's upper bound in microseconds) so that the
/// percentiles of a window can be computed from two readings. Holds no personal data.
/// </summary>
public static class PipelineMetricsApi
{
    public static IEndpointRouteBuilder MapPipelineMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(AdminApi.Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(OperatorRole.Auditor, OperatorRole.Admin))
            .MapGet("/metrics/pipeline", ([FromServices] EventPipeline pipeline) => Results.Json(Describe(pipeline.Metrics.Snapshot()), AdminJson.Options))
            .WithQueryParameters();
        return app;
    }

    /// <summary>The JSON shape of a snapshot (or of a window between two).</summary>
    public static object Describe(PipelineMetricsSnapshot snapshot) => new
    {
        batches = snapshot.Batches,
        rows = snapshot.Rows,
        processCpuMs = Environment.CpuUsage.TotalTime.TotalMilliseconds,
        gc = Gc(),
        jit = Jit(),
        queueWait = Stage(snapshot.QueueWait),
        commit = Stage(snapshot.Commit),
        decision = Stage(snapshot.Decision),
        publishAck = Stage(snapshot.PublishAck),
    };

    // Collections stop every thread, the pipeline's too: their pauses show up in every stage's tail.
    private static object Gc()
    {
        var ephemeral = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        return new
        {
            gen0 = GC.CollectionCount(0),
            gen1 = GC.CollectionCount(1),
            gen2 = GC.CollectionCount(2),
            totalPauseMs = GC.GetTotalPauseDuration().TotalMilliseconds,
            lastEphemeralPauseMs = ephemeral.PauseDurations.Length > 0 ? ephemeral.PauseDurations[0].TotalMilliseconds : 0,
            lastEphemeralPromotedKb = ephemeral.PromotedBytes / 1024,
            allocatedMb = GC.GetTotalAllocatedBytes() / (1024 * 1024),
            heapMb = GC.GetGCMemoryInfo().HeapSizeBytes / (1024 * 1024),
        };
    }

    // Methods compiled again at a higher tier (tiered compilation, on a background thread) take CPU from the decisions
    // long after start: a method called once a second reaches the call-count threshold only after half a minute.
    private static object Jit() => new
    {
        methods = System.Runtime.JitInfo.GetCompiledMethodCount(),
        compileMs = System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,
    };

    private static object Stage(HistogramSnapshot h) => new
    {
        count = h.Count,
        p50Ms = h.Percentile(0.50),
        p90Ms = h.Percentile(0.90),
        p99Ms = h.Percentile(0.99),
        p999Ms = h.Percentile(0.999),
        maxMs = h.MaxMicros / 1000.0,
        buckets = h.Buckets().Select(b => new { le = b.UpperMicros, count = b.Count }),
    };
}
