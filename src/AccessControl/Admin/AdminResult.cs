using System.Collections.Immutable;

namespace AccessControl.Admin;

/// <summary>How an admin change ended. Expected failures are values, so the API maps them to status codes in one place.</summary>
public enum AdminOutcome
{
    /// <summary>Done (or nothing to do: the stored state already was the requested one).</summary>
    Ok,

    /// <summary>The person, credential or access level named in the request does not exist.</summary>
    NotFound,

    /// <summary>The request is malformed or refers to things that do not exist; <see cref="AdminResult{T}.Errors"/> names the fields.</summary>
    Invalid,

    /// <summary>The change would break something that depends on the current state (deleting a level someone holds).</summary>
    Conflict,

    /// <summary>The audit row or the database write failed: nothing became visible (fail closed).</summary>
    Unavailable,

    /// <summary>Refused to a token limited to one site (<see cref="SiteLimit"/>): cardholders are global. Recorded as a <c>security</c> row.</summary>
    NotForThisSite,

    /// <summary>
    /// Refused because the operator's token would give its own person access (a level, a card, a wider level they hold):
    /// segregation of duties. Recorded as a <c>security</c> row (<see cref="Cardholding.CardholderActions.SelfChange"/>).
    /// </summary>
    SegregationOfDuties,
}

/// <summary>One invalid field of a request, named as the client wrote it (<c>accessLevels[1]</c>, <c>validUntil</c>).</summary>
public readonly record struct FieldError(string Field, string Message);

/// <summary>The outcome of an admin change, with the resulting value when it succeeded.</summary>
public sealed record AdminResult<T>
{
    private AdminResult(AdminOutcome outcome, T? value, bool changed, ImmutableArray<FieldError> errors, string? message)
    {
        Outcome = outcome;
        Value = value;
        Changed = changed;
        Errors = errors;
        Message = message;
    }

    public AdminOutcome Outcome { get; }

    /// <summary>The state after the change; set when <see cref="Outcome"/> is <see cref="AdminOutcome.Ok"/>.</summary>
    public T? Value { get; }

    /// <summary>Whether anything was written (and audited). A request that asks for the current state changes nothing.</summary>
    public bool Changed { get; }

    public ImmutableArray<FieldError> Errors { get; }

    public string? Message { get; }

    public bool IsOk => Outcome == AdminOutcome.Ok;

    public static AdminResult<T> Ok(T value, bool changed) => new(AdminOutcome.Ok, value, changed, [], null);

    public static AdminResult<T> NotFound(string message) => new(AdminOutcome.NotFound, default, false, [], message);

    public static AdminResult<T> Invalid(IEnumerable<FieldError> errors) =>
        new(AdminOutcome.Invalid, default, false, [.. errors], "The request is invalid.");

    public static AdminResult<T> Invalid(string field, string message) => Invalid([new FieldError(field, message)]);

    public static AdminResult<T> Conflict(string message) => new(AdminOutcome.Conflict, default, false, [], message);

    public static AdminResult<T> Unavailable(string message) => new(AdminOutcome.Unavailable, default, false, [], message);

    public static AdminResult<T> NotForThisSite(string message) => new(AdminOutcome.NotForThisSite, default, false, [], message);

    public static AdminResult<T> SegregationOfDuties(string message) => new(AdminOutcome.SegregationOfDuties, default, false, [], message);

    /// <summary>The same failure for another result type.</summary>
    public AdminResult<TOther> Cast<TOther>() =>
        Outcome == AdminOutcome.Ok
            ? throw new InvalidOperationException("Only a failure can be cast.")
            : new AdminResult<TOther>(Outcome, default, false, Errors, Message);
}
