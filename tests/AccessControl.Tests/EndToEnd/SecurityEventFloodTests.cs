using System.Text.Json;
using AccessControl.Broker;
using AccessControl.EntryLog;
using AccessControl.Tests.Support;
using MQTTnet;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// Anyone who can reach the broker's port can make it refuse things without a login. Each refusal used to be a row of
/// its own, durable and chained, in a log kept for a year: a loop of wrong passwords filled the disk, and then every door
/// failed closed. A flood is now written as its first rows and a count.
/// </summary>
public class SecurityEventFloodTests
{
    private const string Reader = "rdr-lobby-in";

    private static readonly SecurityEventLimits Limits = new() { Window = TimeSpan.FromMinutes(1), PerSource = 3, PerWindow = 10 };

    [Fact]
    [Trait("control", "NIST-SC-5")]
    [Trait("control", "NIST-AU-4")]
    public async Task AFloodOfWrongPasswords_IsLoggedAsItsFirstRowsAndOneCount_AndReadersStillGetDecisions()
    {
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Broker = s.Broker with { SecurityEvents = Limits } });
        for (var i = 0; i < 12; i++)
        {
            await RefusedLoginAsync(edge);
        }

        var reader = await edge.ReaderAsync(Reader);
        Assert.Equal("granted", (await reader.PresentCard(Operator, Ev3).Decision.WaitAsync(EdgeHarness.Timeout)).Reason);

        // The window passes; the next refusal first closes it (the service also closes it within 10 s on its own).
        edge.Clock.Advance(Duration.FromMinutes(1));
        await RefusedLoginAsync(edge);

        var counted = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == SecurityEvent.Suppressed);
        var after = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == SecurityEvent.ConnectRefused && r.Seq > counted.Seq);
        using var detail = JsonDocument.Parse(counted.Detail!);
        Assert.Equal((SecurityEvent.ConnectRefused, Reader, 9, 0),
            (detail.RootElement.GetProperty("what").GetString(), detail.RootElement.GetProperty("source").GetString(),
                detail.RootElement.GetProperty("count").GetInt32(), detail.RootElement.GetProperty("dropped").GetInt32()));
        var refusedRows = edge.Rows(new LogFilter { Kind = LogKinds.Security }).Where(r => r.Reason == SecurityEvent.ConnectRefused).ToList();
        Assert.Equal(4, refusedRows.Count);
        Assert.Contains(after, refusedRows);
        Assert.All(refusedRows, r => Assert.Equal(Reader, r.Actor));
        Assert.All(refusedRows, r => Assert.Contains("\"from\":\"127.0.0.1\"", r.Detail, StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    [Trait("control", "NIST-AU-4")]
    public async Task AFloodOfConnectionsThatNeverLogIn_IsClosed_LoggedAsItsFirstRowsAndOneCount_AndAConnectedReaderStillGetsDecisions()
    {
        var preLogin = new PreLoginLimits { ConnectDeadline = TimeSpan.FromSeconds(1), PerAddress = 5, Total = 10 };
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Broker = s.Broker with { SecurityEvents = Limits, PreLogin = preLogin } });
        var reader = await edge.ReaderAsync(Reader);

        // Twelve connections from one address that never log in: five wait (until their deadline), seven are over the count.
        // One over the count may be closed so soon that its own connect already sees the broken pipe: closed too.
        var strangers = new List<RawMqttSocket>();
        for (var i = 0; i < 12; i++)
        {
            try
            {
                strangers.Add(await RawMqttSocket.OpenAsync(edge.BrokerPort));
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode is System.Net.Sockets.SocketError.Shutdown or System.Net.Sockets.SocketError.ConnectionReset)
            {
            }
        }

        Assert.Equal("granted", (await reader.PresentCard(Operator, Ev3).Decision.WaitAsync(EdgeHarness.Timeout)).Reason);
        await Task.WhenAll(strangers.Select(s => s.ClosedByServerAsync()));
        Assert.Equal("granted", (await reader.PresentCard(Operator, Ev3).Decision.WaitAsync(EdgeHarness.Timeout)).Reason);

        var closedRows = await ThreeClosedRowsAndNineCountedAsync(edge);
        Assert.All(closedRows, r => Assert.True(string.IsNullOrEmpty(r.Actor)));
        Assert.All(closedRows, r => Assert.Contains("\"from\":\"127.0.0.1\"", r.Detail, StringComparison.Ordinal));
        foreach (var s in strangers)
        {
            s.Dispose();
        }
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    [Trait("control", "NIST-AU-4")]
    public async Task AFloodOfConnectionsWhoseFirstPacketIsNotAConnect_IsClosed_LoggedAsItsFirstRowsAndOneCount()
    {
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Broker = s.Broker with { SecurityEvents = Limits } });
        var reader = await edge.ReaderAsync(Reader);
        for (var i = 0; i < 12; i++)
        {
            using var stranger = await RawMqttSocket.OpenAsync(edge.BrokerPort);
            await stranger.SendAsync(RawMqttSocket.PublishOfSize(edge.Edge.Topics.ReaderEvents(Reader), 200));
            await stranger.ClosedByServerAsync();
        }

        Assert.Equal("granted", (await reader.PresentCard(Operator, Ev3).Decision.WaitAsync(EdgeHarness.Timeout)).Reason);
        var closedRows = await ThreeClosedRowsAndNineCountedAsync(edge);
        Assert.All(closedRows, r => Assert.Contains("first packet is PUBLISH (type 3), not CONNECT", r.Detail, StringComparison.Ordinal));
    }

    /// <summary>
    /// Lets the window pass and closes it: the connection_closed rows of the twelve closes from 127.0.0.1 in it, three
    /// of their own (<see cref="Limits"/>), the other nine counted in one row.
    /// </summary>
    private static async Task<List<LogEntry>> ThreeClosedRowsAndNineCountedAsync(EdgeHarness edge)
    {
        edge.Clock.Advance(Duration.FromMinutes(1));
        await RefusedLoginAsync(edge);

        var counted = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == SecurityEvent.Suppressed);
        using var detail = JsonDocument.Parse(counted.Detail!);
        Assert.Equal((SecurityEvent.ConnectionClosed, "127.0.0.1", 9),
            (detail.RootElement.GetProperty("what").GetString(), detail.RootElement.GetProperty("source").GetString(), detail.RootElement.GetProperty("count").GetInt32()));
        var closedRows = edge.Rows(new LogFilter { Kind = LogKinds.Security }).Where(r => r.Reason == SecurityEvent.ConnectionClosed).ToList();
        Assert.Equal(3, closedRows.Count);
        return closedRows;
    }

    private static async Task RefusedLoginAsync(EdgeHarness edge)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", edge.BrokerPort).WithClientId(Reader)
            .WithCredentials(Reader, "not-the-password").Build();
        var result = await client.ConnectAsync(options).WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
    }
}
