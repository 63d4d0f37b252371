using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace AccessControl.EntryLog;

/// <summary>
/// The <c>detail</c> of a stored row read back at start. The service writes a JSON object there; anything else was put
/// there outside it (a changed database, which <c>accesscontrol log verify</c> reports), and must not crash the start.
/// </summary>
public static class StoredDetail
{
    /// <summary>The detail as a JSON object; null for anything else (no detail, not JSON, JSON that is not an object).</summary>
    public static JsonDocument? Object(string? detail)
    {
        if (detail is null)
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(detail);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The detail of a row that only feeds state the start rebuilds from the log (a cache): as a JSON object; else
    /// null, after an error on <paramref name="logger"/> that names the row and what leaving it out means
    /// (<paramref name="leftOut"/>). A start refused for one such row would keep every door shut.
    /// </summary>
    public static JsonDocument? ParseObject(long seq, string detail, ILogger logger, string leftOut)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (Object(detail) is { } document)
        {
            return document;
        }

        logger.LogError("The entry log's row {Seq} has a detail that is not the JSON object the service writes: the database was changed outside the service. "
            + "The row is left out: {LeftOut}. Run `accesscontrol log verify` for the incident record.", seq, leftOut);
        return null;
    }
}
