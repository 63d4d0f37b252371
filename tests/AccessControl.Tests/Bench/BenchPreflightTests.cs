using AccessControl.Lab.Bench;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Bench;

/// <summary>
/// A bench asked for Mosquitto on a machine without it says so before it runs anything: <c>--broker both</c> used to run
/// its embedded half for minutes and then fail with no table at all.
/// </summary>
public sealed class BenchPreflightTests
{
    [Fact]
    public void Missing_MosquittoAskedForAndNotOnThePath_SaysSoBeforeAnythingRuns()
    {
        using var empty = new DataFolder();

        var both = BenchPreflight.Missing(["embedded", "mosquitto"], empty.Path);
        var embeddedOnly = BenchPreflight.Missing(["embedded"], empty.Path);

        Assert.NotNull(both);
        Assert.Contains("mosquitto is not on the PATH", both, StringComparison.Ordinal);
        Assert.Contains("--broker embedded", both, StringComparison.Ordinal);
        Assert.Null(embeddedOnly);
    }

    [Fact]
    public void Missing_MosquittoOnThePath_IsNothing()
    {
        using var folder = new DataFolder();
        File.WriteAllText(System.IO.Path.Combine(folder.Path, "mosquitto"), "");

        Assert.Null(BenchPreflight.Missing(["embedded", "mosquitto"], $"/nonexistent{System.IO.Path.PathSeparator}{folder.Path}"));
    }

}
