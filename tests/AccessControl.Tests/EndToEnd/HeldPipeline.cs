using AccessControl.EntryLog;

namespace AccessControl.Tests.EndToEnd;

/// <summary>Holds the pipeline's thread after a marker row's commit, so that what is queued meanwhile shares one batch.</summary>
internal sealed class HeldPipeline : IAsyncDisposable
{
    private readonly ManualResetEventSlim hold = new(false);
    private readonly TaskCompletionSource holding = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly EdgeHarness edge;
    private Task marker = Task.CompletedTask;

    private HeldPipeline(EdgeHarness edge) => this.edge = edge;

    public static async Task<HeldPipeline> HoldAsync(EdgeHarness edge)
    {
        var held = new HeldPipeline(edge);
        edge.Edge.Pipeline.Committed += held.OnCommitted;
        held.marker = edge.Edge.Pipeline.AppendAsync(new LogEntry { At = edge.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = "test", Reason = "test.hold" });
        await held.holding.Task.WaitAsync(EdgeHarness.Timeout);
        return held;
    }

    /// <summary>Waits until <paramref name="items"/> items are queued behind the held batch.</summary>
    public Task WhenQueuedAsync(int items) =>
        Task.Run(() => Assert.True(SpinWait.SpinUntil(() => edge.Edge.Pipeline.QueueDepth >= items, EdgeHarness.Timeout), $"{items} items queued"));

    public void Release() => hold.Set();

    public async ValueTask DisposeAsync()
    {
        hold.Set();
        edge.Edge.Pipeline.Committed -= OnCommitted;
        await marker.WaitAsync(EdgeHarness.Timeout);
    }

    private void OnCommitted(IReadOnlyList<LogEntry> rows)
    {
        if (rows.Any(r => r.Reason == "test.hold"))
        {
            holding.TrySetResult();
            hold.Wait(EdgeHarness.Timeout);
        }
    }
}
