using System.Diagnostics;
using AccessControl.Lab.Bench;

namespace AccessControl.Tests.Bench;

/// <summary>
/// The bench's load generator sends "at a rate". Until the seventeenth session it woke on <c>Task.Delay(1)</c> and sent
/// whatever was due, so more than half of its events left within 50 µs of the one before: clumps, not a rate. The plans
/// here say exactly when each event is due, and the sender keeps to them.
/// </summary>
public sealed class SendScheduleTests
{
    [Fact]
    public void Paced_SpacesEveryEventOneIntervalFromTheLast()
    {
        var due = SendSchedule.Plan(Arrivals.Paced, rate: 1000, total: 10_000);

        Assert.Equal(0, due[0]);
        var interval = Stopwatch.Frequency / 1000.0;
        for (var i = 1; i < due.Length; i++)
        {
            Assert.InRange(due[i] - due[i - 1], (long)interval - 1, (long)interval + 1);
        }

        Assert.InRange(due[^1], (long)(9_999 * interval) - 1, (long)(9_999 * interval) + 1);
    }

    [Fact]
    public void Poisson_HasExponentialGapsOfTheRatesMean_AndIsTheSameForTheSameSeed()
    {
        var due = SendSchedule.Plan(Arrivals.Poisson, rate: 1000, total: 100_000);
        var gaps = due.Zip(due.Skip(1), (a, b) => (double)(b - a) / Stopwatch.Frequency * 1000).ToArray();

        var mean = gaps.Average();
        var deviation = Math.Sqrt(gaps.Average(g => (g - mean) * (g - mean)));
        Assert.InRange(mean, 0.98, 1.02);          // ms: 1000 ev/s
        Assert.InRange(deviation / mean, 0.97, 1.03); // an exponential's standard deviation is its mean
        Assert.InRange(gaps.Count(g => g < 0.05) / (double)gaps.Length, 0.04, 0.06); // 1 - e^-0.05: independent readers do meet
        Assert.Equal(due, SendSchedule.Plan(Arrivals.Poisson, rate: 1000, total: 100_000));
        Assert.NotEqual(due, SendSchedule.Plan(Arrivals.Poisson, rate: 1000, total: 100_000, seed: 7));
    }

    [Fact]
    public async Task Sender_SendsEveryEventInOrder_NeverBeforeItsTime()
    {
        var due = SendSchedule.Plan(Arrivals.Paced, rate: 2000, total: 200);
        var sent = new List<(int Index, long At)>();
        var start = Stopwatch.GetTimestamp();

        await SendSchedule.RunAsync(due, i => sent.Add((i, Stopwatch.GetTimestamp())), CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 200), sent.Select(s => s.Index));
        Assert.All(sent, s => Assert.True(s.At >= start + due[s.Index], $"event {s.Index} left before its time"));
    }

    [Fact]
    public async Task Sender_StopsWhenCancelled()
    {
        var due = SendSchedule.Plan(Arrivals.Paced, rate: 1, total: 1000);
        using var cancel = new CancellationTokenSource();
        var sent = 0;

        await SendSchedule.RunAsync(due, _ =>
        {
            sent++;
            cancel.Cancel(); // the next event is a second away: the sender must not wait for it, or for the 998 after
        }, cancel.Token).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(1, sent);
    }
}
