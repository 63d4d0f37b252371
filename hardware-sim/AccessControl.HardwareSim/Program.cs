// Composition root: the only place allowed to pick the real clocks (see eng/BannedSymbols.txt).
#pragma warning disable RS0030
using AccessControl.HardwareSim.Cli;
using NodaTime;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var cli = new SimulatorCli(SystemClock.Instance, TimeProvider.System, Console.Out, Console.Error, SiteLoading.Load);
try
{
    return await cli.RunAsync(args, stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("interrupted");
    return 130;
}
