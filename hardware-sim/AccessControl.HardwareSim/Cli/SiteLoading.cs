using AccessControl.Sites;

namespace AccessControl.HardwareSim.Cli;

/// <summary>The outcome of loading a site file for the simulator.</summary>
public sealed record SiteLoadResult(SiteTopology? Topology, string? Error);

/// <summary>Turns <c>--site FILE</c> into the topology whose devices are simulated.</summary>
public static class SiteLoading
{
    /// <summary>
    /// TODO(site-files): the YAML site loader is being written on another branch. Once it is merged, replace the
    /// body with:
    /// <code>
    /// var result = AccessControl.SiteFiles.SiteFileLoader.Load(path);
    /// return result.Site is { } site ? new SiteLoadResult(site.Topology, null) : new SiteLoadResult(null, string.Join("; ", result.Errors));
    /// </code>
    /// (adjusting to the loader's real error shape). Until then <c>--site</c> is refused and a scenario simulates the
    /// readers it names and the controllers of its <c>wiring:</c> section; load mode names its own readers.
    /// </summary>
    public static SiteLoadResult Load(string path) =>
        new(null, $"--site {path}: site files are not supported by this build yet (the loader is not merged); leave --site out to use the scenario's own wiring");
}
