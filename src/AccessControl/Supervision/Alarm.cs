namespace AccessControl.Supervision;

/// <summary>An alarm to raise: logged first, then published on the alarms topic.</summary>
public readonly record struct Alarm(string Type, string? SiteId, string? DoorId, string? ReaderId, string Detail);
