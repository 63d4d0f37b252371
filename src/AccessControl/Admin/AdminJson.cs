using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using NodaTime;
using NodaTime.Serialization.SystemTextJson;

namespace AccessControl.Admin;

/// <summary>
/// The JSON settings of the admin API, its audit details and the CLI: camelCase, instants as RFC 3339 text,
/// enums as kebab-case text (the spelling of the site file), nulls omitted. A member given twice (<c>"status":"revoked",
/// "status":"active"</c>, or <c>status</c> and <c>Status</c>) is refused: which one counts is not what every reader of
/// the body (a proxy, a reviewer, the HR system's own log) would say.
/// Kept separate from the host's global JSON options so that the API's wire format does not change when another feature configures those.
/// </summary>
public static class AdminJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>
    /// <see cref="Options"/> for an operator's request body: a member the request does not have is refused (400 naming
    /// it), not ignored. Otherwise a misspelt optional field (<c>"escort"</c> for <c>"escorts"</c>, <c>"validUntill"</c>)
    /// is dropped without a word, and the change made is not the one asked for: a visit with no designated escort, a
    /// card valid for ever.
    /// </summary>
    public static JsonSerializerOptions RequestOptions { get; } = Create(JsonUnmappedMemberHandling.Disallow);

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>
    /// What a body that could not be read is answered with: the field its JSON path names (<c>validFrom</c>,
    /// <c>zones[2]</c>, <paramref name="root"/> for the body itself) and what is wrong, never the value (it could be a
    /// document number).
    /// </summary>
    public static FieldError ErrorOf(JsonException ex, string root = "body") => new(
        ex.Path switch
        {
            null or "$" => root,
            _ when ex.Path.StartsWith("$.", StringComparison.Ordinal) => ex.Path[2..],
            _ when ex.Path.StartsWith("$[", StringComparison.Ordinal) => root + ex.Path[1..],
            _ => ex.Path,
        },
        // The runtime says so only in its message; a duplicate is not a wrong type, and the sender should be told which.
        ex.Message.StartsWith("Duplicate property", StringComparison.Ordinal) ? "is given more than once"
        : ex.Message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal) ? "is not a field of this request (check its spelling)"
        : "is not valid JSON of the expected type");

    private static JsonSerializerOptions Create(JsonUnmappedMemberHandling unmapped = JsonUnmappedMemberHandling.Skip)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            UnmappedMemberHandling = unmapped,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
            MaxDepth = 16,
            AllowDuplicateProperties = false,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        options.ConfigureForNodaTime(DateTimeZoneProviders.Tzdb);
        options.MakeReadOnly();
        return options;
    }
}
