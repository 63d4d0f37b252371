// Composition root of the lab: picks the system clock. Commands: demo, visit-day, bench, echo, broker, gen-site, seed-log, chaos.
using AccessControl.Lab.Bench;
using AccessControl.Lab.Demo;

var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopping.Cancel(); };

// SIGTERM (timeout, docker stop, systemd) stops the lab like Ctrl+C. Without it, the in-process service's host took
// the signal for itself and the demo ran on: `timeout 40 ... demo` was still printing decisions nine minutes later.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; stopping.Cancel(); });
var clock = new AccessControl.Hosting.MillisecondClock(NodaTime.SystemClock.Instance); // to the millisecond, as the service stores it
// Switches stand alone; every other flag takes a value.
string[] switches = ["--once", "--disk-full", "--timeline", "--breakdown", "--durable-floor", "--long-read"];
var flags = new Dictionary<string, string>();
var valued = args.Skip(1).Where(a => !switches.Contains(a)).ToList();
for (var i = 0; i + 1 < valued.Count; i += 2)
{
    flags[valued[i].TrimStart('-')] = valued[i + 1];
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
        var port = int.Parse(flags["port"], System.Globalization.CultureInfo.InvariantCulture);
        await using (IAsyncDisposable echo = flags.TryGetValue("durable", out var durableDirectory)
            ? await DurableEcho.StartAsync(port, key, new AccessControl.Protocol.Topics(), durableDirectory)
            : await BenchCommand.Echo.StartAsync(port, key, new AccessControl.Protocol.Topics()))
        {
            Console.WriteLine("echo ready");
            await Task.Delay(Timeout.InfiniteTimeSpan, stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        return 0;
    case "broker":
        // The bench's embedded broker for the floor, in a process of its own: the demo site's logins and rights.
        var brokerSite = AccessControl.SiteFiles.SiteFileLoader.Load(flags.GetValueOrDefault("site") ?? Path.Combine(AppContext.BaseDirectory, "sites", "demo.yaml"));
        if (!brokerSite.Success)
        {
            Console.Error.WriteLine(string.Join(Environment.NewLine, brokerSite.Errors));
            return 2;
        }

        var brokerTopology = brokerSite.Site!.Topology;
        await using (var broker = new AccessControl.Broker.EmbeddedBroker(
            int.Parse(flags["port"], System.Globalization.CultureInfo.InvariantCulture), new AccessControl.Protocol.Topics(), () => brokerTopology,
            new AccessControl.Devices.DeviceSecrets(Convert.FromBase64String(File.ReadAllText(flags["key-file"]).Trim())), clock, TimeProvider.System))
        {
            await broker.StartAsync(stopping.Token);
            Console.WriteLine($"broker ready on 127.0.0.1:{broker.Port}");
            await Task.Delay(Timeout.InfiniteTimeSpan, stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        return 0;
    case "bench":
        var rates = flags.GetValueOrDefault("rates", "100,1000").Split(',').Select(int.Parse).ToArray();
        var seconds = double.Parse(flags.GetValueOrDefault("seconds", "10"), System.Globalization.CultureInfo.InvariantCulture);
        if (!Enum.TryParse<AccessControl.Lab.Bench.Arrivals>(flags.GetValueOrDefault("arrivals", "poisson"), ignoreCase: true, out var arrivals)
            || !Enum.IsDefined(arrivals))
        {
            Console.Error.WriteLine("bench: --arrivals is poisson, paced or ticks");
            return 64;
        }

        try
        {
            return await new BenchCommand(clock, Console.Out)
                {
                    WarmUpSeconds = double.Parse(flags.GetValueOrDefault("warmup", "5"), System.Globalization.CultureInfo.InvariantCulture),
                    Timeline = args.Contains("--timeline"),
                    Breakdown = args.Contains("--breakdown"),
                    DurableFloor = args.Contains("--durable-floor"),
                    LongRead = args.Contains("--long-read"),
                    SeedRows = int.Parse(flags.GetValueOrDefault("seed-rows", "0"), System.Globalization.CultureInfo.InvariantCulture),
                    VerifyLoad = int.Parse(flags.GetValueOrDefault("verify-load", "0"), System.Globalization.CultureInfo.InvariantCulture),
                    Arrivals = arrivals,
                    ServiceEnvironment = (flags.GetValueOrDefault("service-env") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
                        .Select(pair => pair.Split('=', 2)).ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : ""),
                }
                .RunAsync(flags.GetValueOrDefault("broker", "both"), rates, TimeSpan.FromSeconds(seconds), flags.GetValueOrDefault("out"), stopping.Token);
        }
        catch (BenchSetupException ex)
        {
            Console.Error.WriteLine($"bench: {ex.Message}");
            return 1;
        }
    case "gen-site":
        // A site file of many cardholders (see SiteFileGenerator), for timing start and import.
        var generated = new AccessControl.Lab.Scale.SiteFileGenerator
        {
            ChangedPercent = double.Parse(flags.GetValueOrDefault("changed", "0"), System.Globalization.CultureInfo.InvariantCulture),
            SiteId = flags.GetValueOrDefault("site", "scale"),
        };
        var peopleCount = int.Parse(flags.GetValueOrDefault("people", "1000"), System.Globalization.CultureInfo.InvariantCulture);
        if (flags.TryGetValue("out", out var siteOut))
        {
            await using var siteFile = new StreamWriter(siteOut);
            generated.Write(peopleCount, siteFile);
        }
        else
        {
            generated.Write(peopleCount, Console.Out);
        }

        return 0;
    case "seed-log":
        // A data folder whose entry log holds a month of history (see LogSeed), for timing a start on a large log:
        // `aclab seed-log --rows 2000000 --data DIR`, then `accesscontrol run --data DIR ...` (delete the index file
        // beside the database first to time a start after a restore from backup).
        if (!flags.TryGetValue("data", out var seedData) || !int.TryParse(flags.GetValueOrDefault("rows"), out var seedRows) || seedRows < 1)
        {
            Console.Error.WriteLine("seed-log: --rows N (at least 1) and --data DIR are required");
            return 64;
        }

        Directory.CreateDirectory(seedData);
        var seedDatabase = Path.Combine(seedData, "accesscontrol.db");
        if (File.Exists(seedDatabase))
        {
            Console.Error.WriteLine($"seed-log: {seedDatabase} exists; the seed starts a new log");
            return 1;
        }

        var seedTime = System.Diagnostics.Stopwatch.StartNew();
        LogSeed.Write(seedDatabase, seedRows, clock.GetCurrentInstant());
        Console.WriteLine($"seeded {seedDatabase} with {seedRows} rows in {seedTime.Elapsed.TotalSeconds:0.0} s");
        return 0;
    case "chaos":
        int Count(string name, int fallback) => int.Parse(flags.GetValueOrDefault(name, fallback.ToString(System.Globalization.CultureInfo.InvariantCulture)), System.Globalization.CultureInfo.InvariantCulture);
        var chaos = new AccessControl.Lab.Chaos.ChaosOptions();
        return await new AccessControl.Lab.Chaos.ChaosCommand(clock, TimeProvider.System, Console.Out).RunAsync(
            new AccessControl.Lab.Chaos.ChaosOptions
            {
                Events = Count("events", chaos.Events),
                BrokerRestarts = Count("broker-restarts", chaos.BrokerRestarts),
                ServiceKills = Count("kills", chaos.ServiceKills),
                ClockJumps = Count("clock-jumps", chaos.ClockJumps),
                ReaderOutages = Count("reader-outages", chaos.ReaderOutages),
                DiskFull = args.Contains("--disk-full"),
            },
            stopping.Token);
    default:
        Console.Error.WriteLine("""
            usage: aclab demo [--data DIR] [--once]
                   aclab visit-day
                   aclab bench [--broker embedded|mosquitto|both] [--rates 100,1000] [--seconds 10] [--warmup 5] [--timeline] [--breakdown] [--durable-floor] [--long-read] [--verify-load N] [--seed-rows N] [--arrivals poisson|paced|ticks] [--service-env NAME=VALUE,...] [--out FILE.md]
                   aclab gen-site [--people 1000] [--changed PERCENT] [--site ID] [--out FILE.yaml]
                   aclab seed-log --rows N --data DIR
                   aclab chaos [--events 10000] [--broker-restarts 3] [--kills 2] [--clock-jumps 0] [--reader-outages 0] [--disk-full]
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
