using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;

namespace AccessControl.Broker;

/// <summary>
/// The embedded broker's own warnings and errors (MQTTnet's server, and <see cref="BrokerListeners"/>: an accept that
/// fails because the process ran out of file descriptors, say) in the service's log. Below warning nothing is passed on:
/// MQTTnet's verbose level traces packets, which would put every swipe in the log.
/// </summary>
/// <remarks>
/// Much of it is about what a client sent before any login (MQTTnet names a bad protocol name it read, for one), so
/// anyone who reaches the port could write it: control characters are replaced and the text is cut, so no line can be
/// forged; a peer's protocol violation or broken connection is logged without its stack; and at most
/// <see cref="PerMinute"/> lines a minute are written, then one line says how many were left out.
/// </remarks>
internal sealed class MqttNetLog(ILogger logger, TimeProvider time) : IMqttNetLogger
{
    public const int PerMinute = 20;
    private const int MaxLength = 512;
    private readonly Lock gate = new();
    private long windowStart = long.MinValue;
    private int written;
    private int suppressed;

    public bool IsEnabled => logger.IsEnabled(LogLevel.Warning);

    public void Publish(MqttNetLogLevel logLevel, string source, string message, object[] parameters, Exception exception)
    {
        if (logLevel < MqttNetLogLevel.Warning)
        {
            return;
        }

        int left;
        lock (gate)
        {
            var now = time.GetTimestamp();
            left = 0;
            if (windowStart == long.MinValue || time.GetElapsedTime(windowStart, now) >= TimeSpan.FromMinutes(1))
            {
                left = suppressed;
                windowStart = now;
                written = 0;
                suppressed = 0;
            }

            if (written == PerMinute)
            {
                suppressed++;
                return;
            }

            written++;
        }

        if (left > 0)
        {
            logger.LogWarning("MQTT broker: {Count} more warnings and errors were left out of the log in the minute before", left);
        }

        var text = parameters is { Length: > 0 } ? string.Format(CultureInfo.InvariantCulture, message, parameters) : message;
        var peer = exception is MqttProtocolViolationException or IOException or SocketException or OperationCanceledException;
        logger.Log(logLevel == MqttNetLogLevel.Error ? LogLevel.Error : LogLevel.Warning, peer ? null : exception,
            "MQTT broker ({Source}): {Message}", SecurityEvent.CleanUpTo(source, MaxLength),
            SecurityEvent.CleanUpTo(peer && !text.Contains(exception!.Message, StringComparison.Ordinal) ? $"{text} ({exception.GetType().Name}: {exception.Message})" : text, MaxLength));
    }
}
