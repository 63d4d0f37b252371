namespace AccessControl.Events;

/// <summary>Publishes one MQTT message at QoS 1 (the task completes on the broker's PUBACK).</summary>
public interface IMessagePublisher
{
    Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken);
}
