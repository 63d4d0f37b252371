namespace AccessControl.Sites;

// Strong identifiers: mixing a reader id with a door id is a bug the compiler should catch.
// All ids are globally unique within one deployment, because MQTT topics name them without a site prefix.

/// <summary>Identifies a site (one datacenter campus with one time zone).</summary>
public readonly record struct SiteId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies a zone: site, building, data hall, server room or any other area.</summary>
public readonly record struct ZoneId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies a door between two zones.</summary>
public readonly record struct DoorId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies a reader (card or fingerprint). Also its MQTT username.</summary>
public readonly record struct ReaderId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies a door controller (strike relay, door-position sensor, exit button). Also its MQTT username.</summary>
public readonly record struct ControllerId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies a person: employee, contractor or visitor.</summary>
public readonly record struct PersonId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies an access level: a set of zones with a schedule.</summary>
public readonly record struct AccessLevelId(string Value)
{
    public override string ToString() => Value;
}

/// <summary>Identifies a weekly schedule.</summary>
public readonly record struct ScheduleId(string Value)
{
    public override string ToString() => Value;

    /// <summary>The built-in schedule that is always active.</summary>
    public static ScheduleId Always { get; } = new("always");
}
