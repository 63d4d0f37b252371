using Microsoft.Extensions.Logging;

namespace AccessControl.Tests.EndToEnd;

/// <summary>The harness's own log scan (run at every end-to-end test's end) must be able to fail.</summary>
public class LogScanTests
{
    [Fact]
    [Trait("control", "PCI-3.5")]
    [Trait("control", "NIST-AU-9")]
    public async Task ASecretWrittenToTheServiceLog_FailsTheTestThatWroteIt()
    {
        var edge = await EdgeHarness.StartAsync();
        var logger = edge.Edge.Loggers.CreateLogger("careless");
        logger.LogWarning("connecting with {Password}", edge.Secrets.For("rdr-lobby-in"));

        var error = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(async () => await edge.DisposeAsync());

        Assert.Contains("password of rdr-lobby-in", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(edge.Secrets.For("rdr-lobby-in"), error.Message, StringComparison.Ordinal);
    }
}
