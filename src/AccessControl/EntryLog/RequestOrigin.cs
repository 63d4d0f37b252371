using System.Text.Json;

namespace AccessControl.EntryLog;

/// <summary>
/// Where a change came from (PCI DSS 10.2.2, "origination of the event"; NIST AU-3): the address of the HTTP client whose
/// authenticated request is writing rows. Set, for the rest of that request, by the admin API's operator filter and by
/// the HR feed once its signature holds, with the actor the request authenticated as; the service's appender
/// (<c>EventPipeline.AppendAsync</c>, which every admin, visitor, fingerprint and HR row goes through) stamps it into the detail of the rows that actor writes meanwhile, as <c>remote</c>, the key
/// the refused requests' rows use. A row of another actor (a system job the request set off) is left as it is, and so
/// is one that names its <c>remote</c> already.
/// </summary>
public static class RequestOrigin
{
    private static readonly AsyncLocal<Origin?> Current = new();

    /// <summary>From here on in this request's flow, rows written by <paramref name="actor"/> came from <paramref name="remote"/>.</summary>
    public static void Set(string actor, string? remote) =>
        Current.Value = remote is null ? null : new Origin(actor, remote);

    /// <summary>The address the current request came from when it authenticated as <paramref name="actor"/>; else null.</summary>
    /// <remarks>For rows built later on another thread (the pipeline's seq and fire resets), taken when they are asked for.</remarks>
    public static string? RemoteOf(string? actor) =>
        Current.Value is { } origin && string.Equals(actor, origin.Actor, StringComparison.Ordinal) ? origin.Remote : null;

    /// <summary><paramref name="entry"/> with the request's address in its detail when its actor is the request's; else as it is.</summary>
    public static LogEntry Stamp(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Current.Value is not { } origin || !string.Equals(entry.Actor, origin.Actor, StringComparison.Ordinal))
        {
            return entry;
        }

        var remote = "\"remote\":" + JsonSerializer.Serialize(origin.Remote);
        var detail = entry.Detail?.Trim();
        if (detail is null || detail.Length == 0)
        {
            return entry with { Detail = "{" + remote + "}" };
        }

        // Spliced, not parsed and written again: the rest of the detail stays byte for byte as its writer made it.
        if (detail[0] != '{' || detail.Contains("\"remote\":", StringComparison.Ordinal))
        {
            return entry;
        }

        var empty = detail.AsSpan(1).TrimStart().StartsWith("}");
        return entry with { Detail = "{" + remote + (empty ? "" : ",") + detail[1..] };
    }

    private sealed record Origin(string Actor, string Remote);
}
