namespace AccessControl.Protocol;

/// <summary>
/// The outcome of parsing a wire message: a value, or an error that says what is wrong.
/// Malformed input is expected (firmware has bugs), so it is a value, not an exception.
/// </summary>
public readonly struct WireResult<T>
    where T : class
{
    private WireResult(T? value, string? error, string? eventId)
    {
        Value = value;
        Error = error;
        EventId = eventId;
    }

    public T? Value { get; }

    public string? Error { get; }

    /// <summary>The eventId, when the payload was readable far enough to have one; lets a reader be told which event was refused.</summary>
    public string? EventId { get; }

    public bool Success => Value is not null;

    public static WireResult<T> Ok(T value) => new(value, null, null);

    public static WireResult<T> Fail(string error, string? eventId = null) => new(null, error, eventId);
}
