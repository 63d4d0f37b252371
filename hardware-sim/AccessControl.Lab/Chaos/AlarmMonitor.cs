using AccessControl.Devices;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Protocol;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// Listens to the service's alarms topic as the monitor account, as a security desk would, so that a fault can wait
/// for the alarm it should cause. One connection, not re-established: connect one per fault, while the broker is up.
/// </summary>
internal sealed class AlarmMonitor : IAsyncDisposable
{
    private readonly IMqttClient client;

    private AlarmMonitor(IMqttClient client) => this.client = client;

    /// <summary>The alarms heard since connecting, in order.</summary>
    public Observed<AlarmMessage> Alarms { get; } = new();

    public static async Task<AlarmMonitor> ConnectAsync(int port, DeviceSecrets secrets, Topics topics)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var monitor = new AlarmMonitor(client);
        client.ApplicationMessageReceivedAsync += e =>
        {
            if (WireFormat.ParseAlarm(e.ApplicationMessage.Payload).Value is { } alarm)
            {
                monitor.Alarms.Add(alarm);
            }

            return Task.CompletedTask;
        };
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(DeviceSecrets.MonitorUsername)
            .WithCredentials(DeviceSecrets.MonitorUsername, secrets.For(DeviceSecrets.MonitorUsername))
            .WithCleanSession(true)
            .Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            throw new InvalidOperationException($"the broker refused the monitor account: {result.ResultCode}");
        }

        await client.SubscribeAsync(topics.Alarms, MqttQualityOfServiceLevel.AtLeastOnce);
        return monitor;
    }

    /// <summary>The first alarm of <paramref name="type"/> (about <paramref name="readerId"/>, if given) heard since connecting.</summary>
    public Task<AlarmMessage> WhenHeardAsync(string type, TimeSpan timeout, string? readerId = null) =>
        Alarms.WhenAsync($"{type} alarm{(readerId is null ? "" : $" for {readerId}")} on the alarms topic",
            a => a.Type == type && (readerId is null || a.ReaderId == readerId), timeout);

    public async ValueTask DisposeAsync()
    {
        if (client.IsConnected)
        {
            await client.DisconnectAsync();
        }

        client.Dispose();
    }
}
