using System.Collections.Immutable;
using AccessControl.Admin;

namespace AccessControl.Visitors;

/// <summary>How a visitor-management call ended. Expected failures are values; the API maps them to status codes in one place.</summary>
public enum VisitOutcome
{
    Ok,

    /// <summary>The visit, visitor, badge or entry does not exist.</summary>
    NotFound,

    /// <summary>The request is malformed; <see cref="VisitResult{T}.Errors"/> names the fields.</summary>
    Invalid,

    /// <summary>The request is well formed but a rule refuses it; <see cref="VisitResult{T}.Code"/> says which (<see cref="VisitRefusals"/>).</summary>
    Refused,

    /// <summary>The caller may not do this to this visit (segregation of duties); <see cref="VisitResult{T}.Code"/> says why.</summary>
    Forbidden,

    /// <summary>The visit is not in a state that allows it (already decided, already checked in, ...).</summary>
    Conflict,

    /// <summary>The audit row or a database write failed: nothing became visible (fail closed).</summary>
    Unavailable,
}

/// <summary>The outcome of a visitor-management call, with its value when it succeeded.</summary>
public sealed record VisitResult<T>
{
    private VisitResult(VisitOutcome outcome, T? value, string? code, string? message, ImmutableArray<FieldError> errors)
    {
        Outcome = outcome;
        Value = value;
        Code = code;
        Message = message;
        Errors = errors;
    }

    public VisitOutcome Outcome { get; }

    public T? Value { get; }

    /// <summary>A closed refusal code for <see cref="VisitOutcome.Refused"/> and <see cref="VisitOutcome.Forbidden"/>.</summary>
    public string? Code { get; }

    public string? Message { get; }

    public ImmutableArray<FieldError> Errors { get; }

    public bool IsOk => Outcome == VisitOutcome.Ok;

    public static VisitResult<T> Ok(T value) => new(VisitOutcome.Ok, value, null, null, []);

    public static VisitResult<T> NotFound(string message) => new(VisitOutcome.NotFound, default, null, message, []);

    public static VisitResult<T> Invalid(IEnumerable<FieldError> errors) => new(VisitOutcome.Invalid, default, null, "The request is invalid.", [.. errors]);

    public static VisitResult<T> Invalid(string field, string message) => Invalid([new FieldError(field, message)]);

    public static VisitResult<T> Refused(string code, string message) => new(VisitOutcome.Refused, default, code, message, []);

    public static VisitResult<T> Forbidden(string code, string message) => new(VisitOutcome.Forbidden, default, code, message, []);

    public static VisitResult<T> Conflict(string message) => new(VisitOutcome.Conflict, default, null, message, []);

    public static VisitResult<T> Unavailable(string message) => new(VisitOutcome.Unavailable, default, null, message, []);

    /// <summary>The same failure for another result type.</summary>
    public VisitResult<TOther> Cast<TOther>() =>
        IsOk ? throw new InvalidOperationException("Only a failure can be cast.") : new VisitResult<TOther>(Outcome, default, Code, Message, Errors);
}
