using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AccessControl.Admin;

/// <summary>
/// The query parameters a route takes. Every route of the API, of every method, names its own
/// (<see cref="WithQueryParameters"/>, none for most), and a request with any other, or with one of them given twice, is
/// refused 400 naming it: a misspelt filter silently ignored (<c>?sit=B</c>, <c>?persn=p-1</c>) would answer with a wider
/// listing than was asked for, read as the one asked for, <c>site=A&amp;site=B</c> would be read as A alone, and a
/// misspelt option of a change (<c>POST /fire/reset?forse=true</c>) would do the change without it.
/// </summary>
public static class QueryParameters
{
    /// <summary>
    /// Refuses any query parameter but <paramref name="known"/> (with none: every one), and any given more than once,
    /// before the handler runs but after the route's other filters (so an unauthenticated request is still a 401 and a
    /// <c>security</c> row). The answer is the API's problem body, title <c>Invalid query</c>, <c>errors</c> naming each.
    /// </summary>
    public static RouteHandlerBuilder WithQueryParameters(this RouteHandlerBuilder route, params string[] known)
    {
        ArgumentNullException.ThrowIfNull(route);
        return route.AddEndpointFilter(new Filter([.. known]));
    }

    /// <summary>
    /// The 400 for a request whose query holds a parameter not <paramref name="known"/>, or one given twice; null when it
    /// holds none. For a route that authenticates in its handler (the HR feed's signature), which calls it after that.
    /// </summary>
    public static IResult? Refusal(HttpRequest request, params string[] known)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();
        Check(request.Query.Select(q => (q.Key, q.Value.Count)), known, errors);
        return errors.Count == 0 ? null : AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid query", null, errors);
    }

    /// <summary>
    /// Adds an error naming each parameter of <paramref name="given"/> (its name and how many values it has) that is not
    /// <paramref name="known"/>, and each known one given more than once. Names are compared exactly, as they are read.
    /// </summary>
    internal static void Check(IEnumerable<(string Name, int Count)> given, IReadOnlyCollection<string> known, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (var (name, count) in given)
        {
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                errors.Add(new FieldError(name, known.Count == 0
                    ? "is not a parameter of this route (it takes none)"
                    : $"is not a parameter of this route (known: {string.Join(", ", known)})"));
            }
            else if (count != 1)
            {
                errors.Add(new FieldError(name, "must be given once"));
            }
        }
    }

    private sealed class Filter(string[] known) : IEndpointFilter
    {
        public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
            Refusal(context.HttpContext.Request, known) is { } refused ? ValueTask.FromResult<object?>(refused) : next(context);
    }
}
