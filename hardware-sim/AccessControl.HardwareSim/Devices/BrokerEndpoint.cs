using System.Globalization;

namespace AccessControl.HardwareSim.Devices;

/// <summary>Where the MQTT broker listens. Parsed from the <c>host:port</c> form the CLI takes.</summary>
public sealed record BrokerEndpoint(string Host, int Port)
{
    public const int DefaultPort = 1883;

    public static BrokerEndpoint Default { get; } = new("127.0.0.1", DefaultPort);

    /// <summary>Parses <c>host</c>, <c>host:port</c> or <c>[v6]:port</c>; null when the text is not one of those.</summary>
    public static BrokerEndpoint? TryParse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var colon = text.LastIndexOf(':');
        var bracketEnd = text.LastIndexOf(']');
        if (colon < 0 || colon < bracketEnd)
        {
            return new BrokerEndpoint(text.Trim('[', ']'), DefaultPort);
        }

        var host = text[..colon].Trim('[', ']');
        return host.Length > 0
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port is > 0 and <= 65535
            ? new BrokerEndpoint(host, port)
            : null;
    }

    public override string ToString() => $"{Host}:{Port}";
}
