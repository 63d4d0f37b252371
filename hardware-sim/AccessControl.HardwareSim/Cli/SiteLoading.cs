using AccessControl.Sites;

namespace AccessControl.HardwareSim.Cli;

/// <summary>The outcome of loading a site file for the simulator.</summary>
public sealed record SiteLoadResult(SiteTopology? Topology, string? Error);

/// <summary>Turns <c>--site FILE</c> into the topology whose devices are simulated.</summary>
public static class SiteLoading
{
    /// <summary>
    /// Loads a site file with the service's own loader, so simulators and service read the same layout.
    /// </summary>
    public static SiteLoadResult Load(string path)
    {
        var result = AccessControl.SiteFiles.SiteFileLoader.Load(path);
        return result.Site is { } site && result.Success
            ? new SiteLoadResult(site.Topology, null)
            : new SiteLoadResult(null, string.Join("; ", result.Errors));
    }
}
