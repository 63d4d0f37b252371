using System.Collections.Immutable;
using AccessControl.Admin;

namespace AccessControl.Fingerprints;

/// <summary>How a fingerprint-store call ended. Expected failures are values; the API maps them to status codes in one place.</summary>
public enum FingerprintOutcome
{
    Ok,

    /// <summary>The person or template does not exist.</summary>
    NotFound,

    /// <summary>The request is malformed; <see cref="FingerprintResult{T}.Errors"/> names the fields.</summary>
    Invalid,

    /// <summary>Well formed, but a rule refuses it; <see cref="FingerprintResult{T}.Code"/> says which (<see cref="FingerprintRefusals"/>).</summary>
    Refused,

    /// <summary>The caller may not do this (segregation of duties); <see cref="FingerprintResult{T}.Code"/> says why.</summary>
    Forbidden,

    /// <summary>The current state does not allow it (the finger already has an active template, a key is missing).</summary>
    Conflict,

    /// <summary>The audit row or the database write failed: nothing changed (fail closed).</summary>
    Unavailable,
}

/// <summary>The closed set of refusal codes of the fingerprint store.</summary>
public static class FingerprintRefusals
{
    /// <summary>The person has left: nobody enrolls the fingers of a terminated person.</summary>
    public const string PersonTerminated = "person_terminated";

    /// <summary>The person already has the most templates allowed (<see cref="FingerprintOptions.MaxTemplatesPerPerson"/>).</summary>
    public const string TooManyTemplates = "too_many_templates";

    /// <summary>The finger has an active template: revoke it first, or enroll with <c>replace</c>.</summary>
    public const string FingerEnrolled = "finger_enrolled";

    /// <summary>An operator may not enroll their own fingers (NIST AC-5).</summary>
    public const string SelfEnrollment = "self_enrollment";

    /// <summary>A template is under a key that is no longer in the key file: put the key back, then rekey.</summary>
    public const string KeyMissing = "key_missing";
}

/// <summary>The outcome of a fingerprint-store call, with its value when it succeeded.</summary>
public sealed record FingerprintResult<T>
{
    private FingerprintResult(FingerprintOutcome outcome, T? value, bool changed, string? code, string? message, ImmutableArray<FieldError> errors)
    {
        Outcome = outcome;
        Value = value;
        Changed = changed;
        Code = code;
        Message = message;
        Errors = errors;
    }

    public FingerprintOutcome Outcome { get; }

    public T? Value { get; }

    /// <summary>Whether anything was written (and audited).</summary>
    public bool Changed { get; }

    /// <summary>A closed code (<see cref="FingerprintRefusals"/>) for refusals, forbidden requests and conflicts.</summary>
    public string? Code { get; }

    public string? Message { get; }

    public ImmutableArray<FieldError> Errors { get; }

    public bool IsOk => Outcome == FingerprintOutcome.Ok;

    public static FingerprintResult<T> Ok(T value, bool changed = true) => new(FingerprintOutcome.Ok, value, changed, null, null, []);

    public static FingerprintResult<T> NotFound(string message) => new(FingerprintOutcome.NotFound, default, false, null, message, []);

    public static FingerprintResult<T> Invalid(IEnumerable<FieldError> errors) => new(FingerprintOutcome.Invalid, default, false, null, "The request is invalid.", [.. errors]);

    public static FingerprintResult<T> Refused(string code, string message) => new(FingerprintOutcome.Refused, default, false, code, message, []);

    public static FingerprintResult<T> Forbidden(string code, string message) => new(FingerprintOutcome.Forbidden, default, false, code, message, []);

    public static FingerprintResult<T> Conflict(string code, string message) => new(FingerprintOutcome.Conflict, default, false, code, message, []);

    public static FingerprintResult<T> Unavailable(string message) => new(FingerprintOutcome.Unavailable, default, false, null, message, []);
}
