// Composition root: the only place that picks the system clock (to the millisecond, as everything is stored). Everything else takes an IClock.
using AccessControl.Hosting;

// Socket completions run on the socket engine's own thread instead of being handed to the thread pool: one thread hop
// less for every MQTT packet the service receives (decision p99 0.1-0.2 ms lower at 1000 events/s, docs/benchmarks.md).
// Safe here because nothing the service runs on a socket continuation blocks (MQTTnet and Kestrel are async throughout;
// the pipeline's blocking waits are on its own thread). Read by .NET when the first socket is made, so it is set first;
// an operator's own value (0 turns it off) is kept.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

var clock = new MillisecondClock(NodaTime.SystemClock.Instance);
var (words, flags) = ServiceCommands.Parse(args);
var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopping.Cancel(); };

// SIGTERM (systemd stop, docker stop) stops the service cleanly, like Ctrl+C: the pipeline drains, the entry log signs
// its final checkpoint. Without this the runtime would end the process as soon as the handlers returned.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; stopping.Cancel(); });

// log, token, person, credential, level: the admin and audit commands. They do not take the service's settings
// (log purge reads the file it is given with --config itself).
var adminExit = await AccessControl.Cli.AdminCommands.RunAsync(args, clock, Console.Out, Console.Error,
    Environment.GetEnvironmentVariable, AccessControl.EntryLog.OsAccount.Current(), stopping.Token);
if (adminExit is { } exit)
{
    return exit;
}

ServiceSettings settings;
try
{
    settings = ServiceCommands.Settings(flags);
}
catch (SettingsException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

try
{
    return words switch
    {
        ["run"] => await ServiceCommands.RunAsync(settings, clock, TimeProvider.System, stopping.Token),
        ["site", "validate", var file] => ServiceCommands.ValidateSite(file, Console.Out),
        ["device", "secret", var id] => ServiceCommands.DeviceSecret(settings, id, clock, AccessControl.EntryLog.OsAccount.Current(), Console.Out, Console.Error),
        ["mosquitto-config"] when flags.ContainsKey("site") && flags.ContainsKey("out") =>
            ServiceCommands.MosquittoConfiguration(settings, flags["site"], flags["out"], ServiceCommands.PortNumber(flags.GetValueOrDefault("port", "1883"), "--port N"), Console.Out,
                flags.TryGetValue("pki", out var pki) ? AccessControl.Broker.MosquittoTls.FromPkiDirectory(pki, flags.GetValueOrDefault("listen", "127.0.0.1")) : null),
        _ => Usage(),
    };
}
catch (Exception ex) when (ex is SettingsException or ProvisioningKeyMissingException or AccessControl.Storage.KeyFileException)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine(ServiceCommands.Usage);
    return 64;
}
