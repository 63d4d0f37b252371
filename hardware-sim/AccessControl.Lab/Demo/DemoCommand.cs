using AccessControl.EntryLog;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Scenarios;
using AccessControl.HardwareSim.Sites;
using AccessControl.Hosting;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Lab.Demo;

/// <summary>
/// The README's first command: the edge service with its embedded broker and a SQLite file, the demo site, and
/// simulated readers and door controllers acting out a day at the datacenter, with every decision printed as it
/// is logged. Runs until Ctrl+C (or once with --once).
/// </summary>
public sealed class DemoCommand(IClock clock, TimeProvider time, TextWriter output)
{
    private static readonly LocalDateTimePattern TimeOfDay = LocalDateTimePattern.CreateWithInvariantCulture("HH:mm:ss");

    public async Task<int> RunAsync(string dataDirectory, bool once, CancellationToken stopping)
    {
        var siteFile = Path.Combine(AppContext.BaseDirectory, "sites", "demo.yaml");
        var scenarioFile = Path.Combine(AppContext.BaseDirectory, "scenarios", "demo-day.yaml");
        var settings = new ServiceSettings
        {
            DataDirectory = dataDirectory,
            SiteFile = siteFile,
            // Free ports, printed at start: the demo must start even where 1883 or 8080 is taken.
            HttpUrl = "http://127.0.0.1:0",
            Broker = new Broker.BrokerOptions { Port = 0 },
        };

        await using var host = AccessControlHost.Create(settings, clock, time, l => l.SetMinimumLevel(LogLevel.Warning).AddServiceConsole(time, timestampFormat: null));
        var zone = host.Edge.Configuration.Topology.Sites.Values.First().TimeZone;
        host.Edge.Pipeline.Committed += rows =>
        {
            foreach (var row in rows)
            {
                var line = Describe(row, zone);
                if (line is not null)
                {
                    output.WriteLine(line);
                }
            }
        };
        await host.StartAsync(stopping);
        await DemoFingerprints.EnrollAsync(host.Edge, output, stopping);
        output.WriteLine($"AccessControl demo: site 'demo' ({zone.Id}), MQTT 127.0.0.1:{host.Edge.BrokerPort}, admin API {host.HttpAddress}, log {host.Edge.Database.Path}");
        output.WriteLine("Every line below is an entry-log row, printed after it was committed. Ctrl+C stops.");

        var options = new DeviceOptions { Broker = new BrokerEndpoint("127.0.0.1", host.Edge.BrokerPort) };
        await using var devices = SimulatedSite.FromTopology(host.Edge.Configuration.Topology, options, host.Edge.Secrets, clock, time,
            doorOptions: new DoorControllerOptions { AutoOpenOnUnlock = true });
        await devices.StartAsync(stopping);
        var scenario = ScenarioFile.Load(scenarioFile);
        if (!scenario.Success)
        {
            output.WriteLine(string.Join(Environment.NewLine, scenario.Errors));
            return 2;
        }

        var runner = new ScenarioRunner(devices, time, TextWriter.Null);
        var exit = 0;
        do
        {
            try
            {
                var report = await runner.RunAsync(scenario.Scenario!, stopping);
                output.WriteLine($"--- scenario '{report.Name}': {report.Passed} steps as expected, {report.Failed} not ---");
                exit = report.ExitCode;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
        }
        while (!once && !stopping.IsCancellationRequested);

        // The devices stop before the service: each one's going away is a real event, so it is logged as one.
        output.WriteLine("--- stopping: the simulated devices disconnect first, and the service logs each reader and door controller going offline ---");
        return exit;
    }

    internal static string? Describe(LogEntry row, DateTimeZone zone)
    {
        var at = TimeOfDay.Format(row.At.InZone(zone).LocalDateTime);
        return row.Kind switch
        {
            LogKinds.Access => $"{at}  {row.Decision?.ToUpperInvariant(),-7} {row.Reason,-34} reader {row.ReaderId,-14} card {row.Card} {(row.PersonId is null ? "" : "person " + row.PersonId)}{(row.Offline ? " (offline replay)" : "")}",
            LogKinds.Door => $"{at}  door    {row.Reason,-34} door {row.DoorId}",
            LogKinds.Alarm => $"{at}  ALARM   {row.Reason,-34} {(row.ReaderId is null ? "door " + row.DoorId : "reader " + row.ReaderId)}",
            LogKinds.Malformed => $"{at}  MALFORMED from {row.ReaderId ?? row.DoorId}",
            LogKinds.Security => $"{at}  SECURITY {row.Reason} {row.Actor}",
            _ => null,
        };
    }
}
