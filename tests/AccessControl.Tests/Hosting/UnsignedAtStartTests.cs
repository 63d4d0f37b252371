using System.Text.Json;
using AccessControl.EntryLog;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A clean stop signs the log's head. Rows written while the service was stopped (by the CLI, or by whoever has the
/// file) would be signed by its next checkpoint like any other, so at start it records them in an
/// <c>integrity</c>/<c>unsigned_at_start</c> row first: an auditor sees which rows no running service vouched for.
/// </summary>
public sealed class UnsignedAtStartTests : IDisposable
{
    private readonly DataFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public async Task ARowWrittenWhileTheServiceWasStopped_IsNamedAtItsNextStart_AndAStartAfterACleanStopNamesNothing()
    {
        await (await EdgeHarness.StartAsync(directory: folder.Path)).DisposeAsync();
        await (await EdgeHarness.StartAsync(directory: folder.Path)).DisposeAsync();
        long written;
        using (var offline = new EntryLogWriter(new Database(Path.Combine(folder.Path, "accesscontrol.db"))))
        {
            written = offline.Append([new LogEntry { At = Instant.FromUtc(2026, 11, 28, 12, 0), Kind = LogKinds.Admin, Actor = "cli:root", Reason = "operator_token.create" }])[0].Seq;
        }

        await using var edge = await EdgeHarness.StartAsync(directory: folder.Path);

        var found = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Integrity }), r => r.Reason == LogKinds.UnsignedAtStartReason);
        using var detail = JsonDocument.Parse(found.Detail!);
        Assert.Equal((written, written, 1L), (detail.RootElement.GetProperty("fromSeq").GetInt64(), detail.RootElement.GetProperty("toSeq").GetInt64(),
            detail.RootElement.GetProperty("rows").GetInt64()));
        Assert.Equal(written + 1, found.Seq);
    }
}
