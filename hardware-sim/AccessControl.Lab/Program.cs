// Composition root of the lab: picks the system clock. Commands: demo, visit-day, bench, echo, chaos.
using AccessControl.Lab.Bench;
using AccessControl.Lab.Demo;

var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopping.Cancel(); };
var clock = NodaTime.SystemClock.Instance;
var flags = new Dictionary<string, string>();
for (var i = 1; i + 1 < args.Length; i += 2)
{
    flags[args[i].TrimStart('-')] = args[i + 1];
}

switch (args.FirstOrDefault())
{
    case "demo":
        var data = flags.GetValueOrDefault("data") ?? Path.Combine(RepositoryRoot(), "data");
        return await new DemoCommand(clock, TimeProvider.System, Console.Out).RunAsync(data, args.Contains("--once"), stopping.Token);
    case "visit-day":
        return await new VisitDayCommand(clock, TimeProvider.System, Console.Out).RunAsync(stopping.Token);
    case "echo":
        // The bench's floor responder, in a process of its own.
        var key = new AccessControl.Devices.DeviceSecrets(Convert.FromBase64String(File.ReadAllText(flags["key-file"]).Trim()));
        await using (var echo = await BenchCommand.Echo.StartAsync(int.Parse(flags["port"], System.Globalization.CultureInfo.InvariantCulture), key, new AccessControl.Protocol.Topics()))
        {
            Console.WriteLine("echo ready");
            await Task.Delay(Timeout.InfiniteTimeSpan, stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        return 0;
    case "bench":
        var rates = flags.GetValueOrDefault("rates", "100,1000").Split(',').Select(int.Parse).ToArray();
        var seconds = double.Parse(flags.GetValueOrDefault("seconds", "10"), System.Globalization.CultureInfo.InvariantCulture);
        return await new BenchCommand(clock, Console.Out)
            .RunAsync(flags.GetValueOrDefault("broker", "both"), rates, TimeSpan.FromSeconds(seconds), flags.GetValueOrDefault("out"), stopping.Token);
    case "chaos":
        return await new AccessControl.Lab.Chaos.ChaosCommand(clock, TimeProvider.System, Console.Out).RunAsync(
            int.Parse(flags.GetValueOrDefault("events", "10000"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(flags.GetValueOrDefault("broker-restarts", "3"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(flags.GetValueOrDefault("kills", "2"), System.Globalization.CultureInfo.InvariantCulture),
            stopping.Token);
    default:
        Console.Error.WriteLine("""
            usage: aclab demo [--data DIR] [--once]
                   aclab visit-day
                   aclab bench [--broker embedded|mosquitto|both] [--rates 100,1000] [--seconds 10] [--out FILE.md]
                   aclab chaos [--events 10000] [--broker-restarts 3] [--kills 2]
            """);
        return 64;
}

// The data folder of a checkout: the folder holding AccessControl.sln, above the current directory.
static string RepositoryRoot()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "AccessControl.sln")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
