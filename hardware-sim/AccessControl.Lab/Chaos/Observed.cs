namespace AccessControl.Lab.Chaos;

/// <summary>
/// What a run observed (decisions readers heard, alarms the monitor heard), in the order observed, and a way to wait
/// for one that matches instead of sleeping: a fault step waits for the effect it should have.
/// </summary>
internal sealed class Observed<T>
{
    private readonly List<T> items = [];
    private readonly List<(int From, Func<T, bool> Match, TaskCompletionSource<T> Found)> waiting = [];

    public int Count
    {
        get
        {
            lock (items)
            {
                return items.Count;
            }
        }
    }

    /// <summary>Everything observed so far, in order.</summary>
    public IReadOnlyList<T> Snapshot()
    {
        lock (items)
        {
            return [.. items];
        }
    }

    public void Add(T item)
    {
        lock (items)
        {
            items.Add(item);
            foreach (var waiter in waiting.Where(w => items.Count > w.From && w.Match(item)).ToList())
            {
                waiting.Remove(waiter);
                waiter.Found.TrySetResult(item);
            }
        }
    }

    /// <summary>
    /// The first item at position <paramref name="from"/> or later (observed before or after the call) that matches;
    /// a <see cref="TimeoutException"/> saying <paramref name="what"/> was awaited after <paramref name="timeout"/>.
    /// </summary>
    public async Task<T> WhenAsync(string what, Func<T, bool> match, TimeSpan timeout, int from = 0)
    {
        var found = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (items)
        {
            for (var i = from; i < items.Count; i++)
            {
                if (match(items[i]))
                {
                    return items[i];
                }
            }

            waiting.Add((from, match, found));
        }

        try
        {
            return await found.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            lock (items)
            {
                waiting.RemoveAll(w => w.Found == found);
            }

            throw new TimeoutException($"no {what} within {timeout.TotalSeconds:0} s");
        }
    }
}
