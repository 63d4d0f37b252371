namespace AccessControl.Broker;

/// <summary>
/// How the service meets its broker: it receives what devices publish on <see cref="Protocol.Topics.ServiceSubscriptions"/>
/// and publishes as <see cref="Devices.DeviceSecrets.ServiceUsername"/>. Two kinds:
/// <list type="bullet">
/// <item><see cref="ServiceConnection"/>: an MQTT client over TCP, to an external broker (Mosquitto) or, when asked,
/// to the embedded one;</item>
/// <item><see cref="InProcessLink"/>: inside the <see cref="EmbeddedBroker"/> of this process, the default in embedded
/// mode. No socket, no client session: events reach the pipeline from the broker's publish hook, and answers go into
/// the broker's dispatch.</item>
/// </list>
/// </summary>
public interface IServiceLink : IAsyncDisposable
{
    /// <summary>Raised when messages for the service will arrive (first time, and after every reconnection or broker restart).</summary>
    event Action? Connected;

    /// <summary>Raised when they stop arriving (connection lost, broker stopped), with a reason for the log.</summary>
    event Action<string>? Disconnected;

    /// <summary>Raised for every failed attempt to get connected, with a reason for the log (never a secret).</summary>
    event Action<string>? ConnectFailed;

    /// <summary>Messages for the service arrive, and what it publishes is taken.</summary>
    bool IsConnected { get; }

    /// <summary>Starts receiving; returns after the first attempt (see <see cref="IsConnected"/>).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Publishes at QoS 1; completes when the broker has taken the message, or says why it did not.</summary>
    Task<PublishOutcome> PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken);
}
