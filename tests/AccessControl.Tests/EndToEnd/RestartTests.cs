using AccessControl.Tests.Support;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>What the service knows from before a restart: rebuilt from the entry log on the same data folder.</summary>
public class RestartTests
{
    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.2")]
    public async Task HardAntiPassback_HoldsAcrossARestart_TheCardInsideIsNotPassedBackIn()
    {
        var directory = Directory.CreateTempSubdirectory("ac-e2e-restart-").FullName;
        try
        {
            await using (var before = await EdgeHarness.StartAsync(directory: directory))
            {
                var entry = await before.ReaderAsync("rdr-dh1-in");
                Assert.True((await entry.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
            }

            await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory);
            var again = await after.ReaderAsync("rdr-dh1-in");
            var exit = await after.ReaderAsync("rdr-dh1-out");

            var passedBack = await again.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
            var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
            var back = await again.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

            Assert.Equal((false, "anti_passback"), (passedBack.Grant, passedBack.Reason));
            Assert.True(leaving.Grant);
            Assert.True(back.Grant);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
