namespace AccessControl.Tests.EndToEnd;

/// <summary>Cards of the people in deploy/sites/demo.yaml.</summary>
internal static class DemoCards
{
    public const string Operator = "04A1B2C3D4E5F6";          // p-mkoch, desfire-ev3, everywhere 24x7, may escort into data hall 1 and server room 1
    public const string Engineer = "045E3F7A2B6C80";          // p-jweber, desfire-ev3, lobby 24x7 + data hall business hours + server room only under escort, valid from 2026-03-01
    public const string Contractor = "047C19D24A5B81";        // p-lromano, desfire-ev2, lobby only, valid until 2027-03-31T22:00Z
    public const string Suspended = "04C3880E6F2A90";         // p-sbrandt, suspended person
    public const string Terminated = "04D6215B9E3C84";        // p-tfischer, terminated person
    public const string MifareClassic = "0492B4E17D0A35";     // p-aschulz, mifare-classic (not allowed in the data hall)
    public const string Unknown = "04FFFFFFFFFF01";
    public const string Visitor1 = "04B15170000001";          // v-ewagner, visitor, desfire-ev3 pool badge, 2026-12-01 07:00-19:00 Berlin
    public const string Visitor2 = "04B15170000002";          // v-hyilmaz, same
    public const string Visitor3 = "04B15170000003";          // v-pnowak, same

    public const string Ev3 = "desfire-ev3";

    /// <summary>The person holding a demo card (for the people enrolled in the fingerprint system).</summary>
    public static string PersonOf(string card) => card switch
    {
        Operator => "p-mkoch",
        Engineer => "p-jweber",
        _ => throw new ArgumentException($"No demo person with a fingerprint for card {card}.", nameof(card)),
    };

    public const string Ev2 = "desfire-ev2";
    public const string Mifare = "mifare-classic";
}
