using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Sites;
using AccessControl.Protocol;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace AccessControl.HardwareSim.Scenarios;

/// <summary>The outcome of reading a scenario file: the scenario, or every problem found (a bad file is expected input, not a bug).</summary>
public sealed record ScenarioParseResult(Scenario? Scenario, IReadOnlyList<string> Errors)
{
    public bool Success => Scenario is not null;
}

/// <summary>
/// Reads scenario files (YAML). The format:
/// <code>
/// name: demo day
/// technology: desfire-ev3          # default for card steps
/// timeout: 5s                      # default wait for an expected decision
/// ids: { ... }                     # free-form; a place for YAML anchors (&amp;lobbyIn rdr-lobby-in) used below
/// wiring:                          # controller -> doors, used when no site file is given
///   - { controller: ctl-lobby, doors: [door-lobby] }
/// steps:
///   - { at: 0s, reader: rdr-lobby-in, card: 04A1B2C3D4E5F6, technology: desfire-ev3, expect: grant, reason: granted }
///   - { at: 0s, reader: rdr-sr1-in, card: 04A1B2C3D4E5F6, pending: true, expect: grant }   # two-factor: pending first, then the final
///   - { at: 1s, reader: fp-sr1-in, person: p-mkoch, finger: right-index, expect: grant }     # a finger at a fingerprint reader
///   - { at: 1s, reader: fp-sr1-in, finger: none }                                           # no finger: the service times out
///   - { at: 1s, door: door-dh1, action: open|close|force|hold|exit }
///   - { at: 3s, reader: rdr-dh1-in, action: tamper|disconnect|reconnect|heartbeat, detail: cover opened }
///   - { at: 4s, say: "text to print" }
/// </code>
/// A card step without <c>expect</c> is not waited for (e.g. a swipe at an offline reader); with it, a <c>pending</c>
/// answer lets the next steps run and the final decision is checked when it comes. Unknown keys are errors,
/// so that a typo does not silently drop an expectation.
/// </summary>
public static class ScenarioFile
{
    public const string DefaultTechnology = "desfire-ev3";

    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(5);

    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    public static ScenarioParseResult Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new ScenarioParseResult(null, [$"cannot read {path}: {ex.Message}"]);
        }

        return Parse(text, Path.GetFileNameWithoutExtension(path));
    }

    public static ScenarioParseResult Parse(string yaml, string defaultName = "scenario")
    {
        FileDto? file;
        try
        {
            file = Deserializer.Deserialize<FileDto?>(yaml);
        }
        catch (YamlException ex)
        {
            var inner = ex.InnerException is null ? "" : $" ({ex.InnerException.Message})";
            return new ScenarioParseResult(null, [$"line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}{inner}"]);
        }

        var errors = new List<string>();
        if (file?.Steps is not { Count: > 0 })
        {
            return new ScenarioParseResult(null, ["the file has no steps"]);
        }

        var technology = file.Technology ?? DefaultTechnology;
        var timeout = DefaultTimeout;
        if (file.Timeout is not null && !Durations.TryParse(file.Timeout, out timeout))
        {
            errors.Add($"timeout '{file.Timeout}' is not a duration such as 5s");
        }

        var wiring = ReadWiring(file.Wiring, errors);
        var steps = new List<ScenarioStep>();
        var previous = TimeSpan.Zero;
        for (var i = 0; i < file.Steps.Count; i++)
        {
            var step = ReadStep(i + 1, file.Steps[i], technology, timeout, out var error);
            if (step is null)
            {
                errors.Add($"step {i + 1}: {error}");
                continue;
            }

            if (step.At < previous)
            {
                errors.Add($"step {i + 1}: at {Durations.Format(step.At)} is before the step above it ({Durations.Format(previous)}); steps run in order");
            }

            previous = step.At;
            steps.Add(step);
        }

        return errors.Count > 0
            ? new ScenarioParseResult(null, errors)
            : new ScenarioParseResult(new Scenario(file.Name ?? defaultName, steps, wiring), []);
    }

    private static List<ControllerLayout> ReadWiring(List<WiringDto>? wiring, List<string> errors)
    {
        var result = new List<ControllerLayout>();
        foreach (var (entry, index) in (wiring ?? []).Select((w, i) => (w, i + 1)))
        {
            if (!WireFormat.IsValidDeviceId(entry.Controller) || entry.Doors is not { Count: > 0 } || !entry.Doors.All(d => WireFormat.IsValidId(d)))
            {
                errors.Add($"wiring {index}: needs a valid controller id and at least one valid door id");
                continue;
            }

            result.Add(new ControllerLayout(entry.Controller!, entry.Doors));
        }

        return result;
    }

    private static ScenarioStep? ReadStep(int number, StepDto dto, string technology, TimeSpan timeout, out string? error)
    {
        error = null;
        if (!Durations.TryParse(dto.At, out var at))
        {
            error = dto.At is null ? "at is missing" : $"at '{dto.At}' is not a duration such as 0s, 1.5s or 500ms";
            return null;
        }

        var stepTimeout = timeout;
        if (dto.Timeout is not null && !Durations.TryParse(dto.Timeout, out stepTimeout))
        {
            error = $"timeout '{dto.Timeout}' is not a duration such as 5s";
            return null;
        }

        var targets = (dto.Reader is null ? 0 : 1) + (dto.Door is null ? 0 : 1) + (dto.Say is null ? 0 : 1);
        if (targets != 1)
        {
            error = "a step names exactly one of reader, door or say";
            return null;
        }

        if (dto.Say is not null)
        {
            return new SayStep(number, at, dto.Say);
        }

        if (dto.Door is not null)
        {
            if (!WireFormat.IsValidId(dto.Door))
            {
                error = $"door '{dto.Door}' is not a valid id";
                return null;
            }

            DoorAction? action = dto.Action switch
            {
                "open" => DoorAction.Open,
                "close" => DoorAction.Close,
                "force" => DoorAction.Force,
                "hold" => DoorAction.Hold,
                "exit" => DoorAction.Exit,
                _ => null,
            };
            if (action is null || dto.Card is not null || dto.Finger is not null || dto.Expect is not null)
            {
                error = $"a door step takes action open, close, force, hold or exit (got '{dto.Action}')";
                return null;
            }

            return new DoorStep(number, at, dto.Door, action.Value);
        }

        if (!WireFormat.IsValidDeviceId(dto.Reader))
        {
            error = $"reader '{dto.Reader}' is not a valid id";
            return null;
        }

        if (dto.Card is not null && dto.Finger is not null)
        {
            error = "a reader step has a card or a finger, not both";
            return null;
        }

        if (dto.Card is not null)
        {
            return ReadCardStep(number, at, dto, technology, stepTimeout, out error);
        }

        if (dto.Finger is not null)
        {
            return ReadFingerStep(number, at, dto, stepTimeout, out error);
        }

        if (dto.Person is not null || dto.Pending is not null)
        {
            error = "person goes with a finger step, pending with a card step";
            return null;
        }

        ReaderAction? readerAction = dto.Action switch
        {
            "tamper" => ReaderAction.Tamper,
            "disconnect" => ReaderAction.Disconnect,
            "reconnect" => ReaderAction.Reconnect,
            "heartbeat" => ReaderAction.Heartbeat,
            _ => null,
        };
        if (readerAction is null || dto.Expect is not null)
        {
            error = $"a reader step has a card, a finger, or an action tamper, disconnect, reconnect or heartbeat (got '{dto.Action}')";
            return null;
        }

        if (dto.Detail is not null && readerAction != ReaderAction.Tamper)
        {
            error = "only a tamper step takes a detail";
            return null;
        }

        return new ReaderStep(number, at, dto.Reader!, readerAction.Value, dto.Detail, stepTimeout);
    }

    private static CardStep? ReadCardStep(int number, TimeSpan at, StepDto dto, string technology, TimeSpan timeout, out string? error)
    {
        error = null;
        if (dto.Action is not null)
        {
            error = "a card step takes no action";
            return null;
        }

        if (string.IsNullOrWhiteSpace(dto.Card))
        {
            error = "card is empty";
            return null;
        }

        if (dto.Person is not null)
        {
            error = "a card step takes no person";
            return null;
        }

        if (!TryReadExpectation(dto, out var expect, out error))
        {
            return null;
        }

        if (dto.Pending is not null && expect is null)
        {
            error = "pending is only checked together with expect";
            return null;
        }

        return new CardStep(number, at, dto.Reader!, dto.Card, dto.Technology ?? technology, expect, timeout, dto.Pending);
    }

    private static FingerStep? ReadFingerStep(int number, TimeSpan at, StepDto dto, TimeSpan timeout, out string? error)
    {
        error = null;
        if (dto.Action is not null || dto.Technology is not null || dto.Pending is not null || dto.Detail is not null)
        {
            error = "a finger step takes person, finger, expect, reason and timeout only";
            return null;
        }

        if (dto.Finger == "none")
        {
            if (dto.Person is not null || dto.Expect is not null || dto.Reason is not null)
            {
                error = "finger: none presents nothing: it takes no person and no expect";
                return null;
            }

            return new FingerStep(number, at, dto.Reader!, null, null, null, timeout);
        }

        if (!Fingers.IsValid(dto.Finger))
        {
            error = $"finger '{dto.Finger}' is not none or one of {string.Join(", ", Fingers.All)}";
            return null;
        }

        if (string.IsNullOrWhiteSpace(dto.Person))
        {
            error = "a finger step names the person whose finger it is (person: p-...)";
            return null;
        }

        return TryReadExpectation(dto, out var expect, out error)
            ? new FingerStep(number, at, dto.Reader!, dto.Person, dto.Finger, expect, timeout)
            : null;
    }

    private static bool TryReadExpectation(StepDto dto, out DecisionExpectation? expect, out string? error)
    {
        expect = null;
        error = null;
        if (dto.Expect is not null)
        {
            bool? grant = dto.Expect switch { "grant" => true, "deny" => false, _ => null };
            if (grant is null)
            {
                error = $"expect must be grant or deny (got '{dto.Expect}')";
                return false;
            }

            expect = new DecisionExpectation(grant.Value, dto.Reason);
        }
        else if (dto.Reason is not null)
        {
            error = "reason is only checked together with expect";
            return false;
        }

        return true;
    }

    // YamlDotNet fills these; every property is optional here and checked above.
#pragma warning disable CA1812 // instantiated by YamlDotNet
    private sealed class FileDto
    {
        public string? Name { get; set; }

        public string? Technology { get; set; }

        public string? Timeout { get; set; }

        public object? Ids { get; set; }

        public List<WiringDto>? Wiring { get; set; }

        public List<StepDto>? Steps { get; set; }
    }

    private sealed class WiringDto
    {
        public string? Controller { get; set; }

        public List<string>? Doors { get; set; }
    }

    private sealed class StepDto
    {
        public string? At { get; set; }

        public string? Reader { get; set; }

        public string? Door { get; set; }

        public string? Say { get; set; }

        public string? Card { get; set; }

        public string? Technology { get; set; }

        public string? Expect { get; set; }

        public string? Reason { get; set; }

        public string? Action { get; set; }

        public string? Detail { get; set; }

        public string? Person { get; set; }

        public string? Finger { get; set; }

        public bool? Pending { get; set; }

        public string? Timeout { get; set; }
    }
#pragma warning restore CA1812
}
