using System.Collections.Concurrent;
using System.Text;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Tests.Support;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>The service's own connection, against both brokers, including a broker restart under its feet.</summary>
public class ServiceConnectionTests
{
    public static TheoryData<BrokerKind> Kinds => TestBrokers.Kinds;

    /// <summary>Both brokers, each with the connections read by threads of their own (the default) and by MQTTnet's own channel.</summary>
    public static TheoryData<BrokerKind, bool> KindsAndReading => new()
    {
        { BrokerKind.Embedded, true },
        { BrokerKind.Embedded, false },
        { BrokerKind.Mosquitto, true },
        { BrokerKind.Mosquitto, false },
    };

    /// <summary>Short delays so a reconnection takes well under a second; the tests still only await signals.</summary>
    private static BrokerOptions OptionsFor(ITestBroker broker, bool receiveThreads = true) => new()
    {
        ReceiveThreads = receiveThreads,
        Mode = broker.Kind == BrokerKind.Embedded ? BrokerMode.Embedded : BrokerMode.External,
        Host = "127.0.0.1",
        Port = broker.Port,
        PingInterval = TimeSpan.FromMilliseconds(100),
        RetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        ConnectTimeout = TimeSpan.FromSeconds(2),
        ConnectAttempts = 3,
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-SI-10")]
    public async Task AnEventADevicePublishedRetained_IsNotDeliveredAgainWhenTheServiceSubscribes_WhileARetainedStatusIs(BrokerKind kind)
    {
        // Events are never retained (docs/reader-protocol.md); a device that sets the flag anyway would have the broker
        // keep the event and hand it to the service again at every (re)connect, a duplicate, or a replay once purged.
        // Statuses are retained on purpose: the service learns at subscribe who is offline.
        await using var broker = await TestBrokers.StartAsync(kind);
        await using (var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn))
        {
            await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "retained-swipe", retain: true);
            await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "retained-status", retain: true);
        }

        var inbox = new Inbox();
        await using var connection = new ServiceConnection(OptionsFor(broker), Secrets, RealTime.Instance, inbox.DeliverAsync);
        await connection.StartAsync(CancellationToken.None);
        await inbox.Arrived("retained-status");
        await using var again = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await again.PublishAsync(Topics.ReaderEvents(MainReaderIn), "live-swipe");
        await inbox.Arrived("live-swipe");

        Assert.Equal(["retained-status", "live-swipe"], inbox.Payloads);
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task StartAsync_ConnectsAndReceivesWhatDevicesPublish(BrokerKind kind, bool receiveThreads)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance);

        await connection.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await using var controller = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, HallController);
        await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "swipe");
        await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "online");
        await controller.PublishAsync(Topics.DoorEvents(HallDoor), "opened");
        await controller.PublishAsync(Topics.DoorStatus(HallDoor), "closed");

        Assert.True(connection.IsConnected);
        var received = new List<ReceivedMessage>();
        for (var i = 0; i < 4; i++)
        {
            received.Add(await connection.Received.ReadAsync().AsTask().WaitAsync(TestTimeouts.Signal));
        }

        // Two publishers: their messages may interleave, so compare as sets.
        string[] expected = [Topics.ReaderEvents(MainReaderIn), Topics.ReaderStatus(MainReaderIn), Topics.DoorEvents(HallDoor), Topics.DoorStatus(HallDoor)];
        Assert.Equal(expected.Order(StringComparer.Ordinal), received.Select(m => m.Topic).Order(StringComparer.Ordinal));
        Assert.Equal("swipe", Encoding.UTF8.GetString(received.Single(m => m.Topic == Topics.ReaderEvents(MainReaderIn)).Payload.Span));
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task Deliver_GetsEveryMessageOnce_InTheOrderPublished_OnTheReadingThreadWhenOn(BrokerKind kind, bool receiveThreads)
    {
        // The pipeline's path (a delivery callback instead of the Received queue): each message exactly once, in order.
        await using var broker = await TestBrokers.StartAsync(kind);
        var inbox = new Inbox();
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance, inbox.DeliverAsync);
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await using var controller = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, HallController);

        var sent = Enumerable.Range(0, 200).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var payload in sent)
        {
            await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), payload);
        }

        await inbox.Arrived("199");
        await controller.PublishAsync(Topics.DoorEvents(HallDoor), "after");
        await inbox.Arrived("after");

        // A second hand-over of any of the 200 would have come before "after", which was published once they had all arrived.
        Assert.Equal([.. sent, "after"], inbox.Payloads);

        // The point of the reading thread: an event goes from recv to the pipeline on one thread, with no hand-over to
        // .NET's socket thread, a thread-pool worker or the client's message task on the way.
        if (receiveThreads)
        {
            Assert.All(inbox.Threads, name => Assert.Equal("ac-mqtt-in", name));
        }
        else
        {
            Assert.DoesNotContain("ac-mqtt-in", inbox.Threads);
        }
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task Deliver_ThatWaits_HoldsBackTheNextMessages_AndLosesNone(BrokerKind kind, bool receiveThreads)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inbox = new Inbox(full.Task); // the pipeline's queue is full until `full` completes
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance, inbox.DeliverAsync);
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        await HoldUpAsync(reader, inbox, behind: 5);

        var whileFull = inbox.Payloads.ToList();
        full.SetResult();
        await inbox.Arrived("e5");

        Assert.Equal(["e0"], whileFull);
        Assert.Equal(["e0", "e1", "e2", "e3", "e4", "e5"], inbox.Payloads);
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task Deliver_ThatWaitsLongerThanTheKeepAlive_KeepsTheConnection_AndLosesNone(BrokerKind kind, bool receiveThreads)
    {
        // A pipeline held up for longer than the keep-alive and the ping's timeout together (a disk that stalls its
        // commit): while the reading waits, MQTTnet's own keep-alive ping gets no answer read. The connection must
        // still hold, or the broker would drop the messages it queued for the service (clean start).
        await using var broker = await TestBrokers.StartAsync(kind);
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inbox = new Inbox(full.Task);
        // Keep-alive 8 s: MQTTnet pings once it has sent nothing for 8 s and waits its Timeout (ConnectTimeout, 4 s) for
        // the answer; the broker drops a client it heard nothing from for 1.5 keep-alives (12 s), so the ping has 4 s of
        // slack there (the service's loop pings every 100 ms outside the stall). With a 2 s keep-alive (1 s of slack), then
        // a 4 s one (2 s), a loaded machine (the suite beside two CPU-bound builds) was late by that much once each: the
        // broker dropped the client (KeepAliveTimeout), with no fault of the code.
        var options = OptionsFor(broker, receiveThreads) with { KeepAlive = TimeSpan.FromSeconds(8), ConnectTimeout = TimeSpan.FromSeconds(4) };
        await using var connection = new ServiceConnection(options, Secrets, RealTime.Instance, inbox.DeliverAsync);
        var drops = new ConcurrentQueue<string>();
        connection.Disconnected += drops.Enqueue;
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        await HoldUpAsync(reader, inbox, behind: 5);

        // The stall itself: longer than the keep-alive and the ping's timeout together (12 s), the longest an unanswered
        // ping goes unnoticed. Not a wait for a signal: nothing happens during it, which is the point.
        await Task.Delay(TimeSpan.FromSeconds(14));
        full.SetResult();
        var lost = await Record.ExceptionAsync(() => inbox.Arrived("e5"));

        Assert.Empty(drops); // a drop is why e5 would not come: said first
        Assert.Null(lost);
        Assert.Equal(["e0", "e1", "e2", "e3", "e4", "e5"], inbox.Payloads);
        Assert.True(connection.IsConnected);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Deliver_ThatWaits_KeepsAtMostReceiveQueueCapacityBehindIt_AndLosesNone(BrokerKind kind)
    {
        // The reading thread keeps at most ReceiveQueueCapacity messages behind a waiting delivery: the broker's flow
        // control (MQTT 5 Receive Maximum) sends no more, and a broker that sends more finds the reading stopped. All of
        // them still arrive, once each, in order.
        await using var broker = await TestBrokers.StartAsync(kind);
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inbox = new Inbox(full.Task);
        var options = OptionsFor(broker) with { ReceiveQueueCapacity = 2 };
        await using var connection = new ServiceConnection(options, Secrets, RealTime.Instance, inbox.DeliverAsync);
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var sent = await HoldUpAsync(reader, inbox, behind: 12);
        // The reader's publishes are acknowledged by the broker, which forwards them to the service on its own time:
        // released before the next one reached the reading thread, the delivery would have held nothing behind it.
        await Task.Run(() => Assert.True(SpinWait.SpinUntil(() => connection.HeldPeak >= 1, TimeSpan.FromSeconds(30)), "an event held behind the waiting delivery"));

        var whileFull = inbox.Payloads.ToList();
        full.SetResult();
        await inbox.Arrived("e12");

        Assert.Equal(["e0"], whileFull);
        Assert.Equal(["e0", .. sent], inbox.Payloads);
        Assert.InRange(connection.HeldPeak, 1, 2);
        if (kind == BrokerKind.Mosquitto)
        {
            // Mosquitto honours the service's MQTT 5 Receive Maximum (the capacity): with one message waiting for the
            // pipeline, it sends one more and holds the rest. (MQTTnet's server does not, and the reading stops instead.)
            Assert.Equal(1, connection.HeldPeak);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connect_ToABrokerThatTakesTheConnectionAndNeverAnswers_GivesUpAtTheConnectTimeout_AndSaysSo(bool tls)
    {
        // The reading thread blocks in recv, which no cancellation token reaches: the connect timeout must still end
        // the attempt (for CONNACK by closing the socket, for the TLS handshake by the socket's receive timeout).
        using var pki = tls ? TestPki.Create(Topology) : null;
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var held = new ConcurrentQueue<System.Net.Sockets.Socket>();
        using var stopAccepting = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stopAccepting.IsCancellationRequested)
            {
                held.Enqueue(await silent.AcceptSocketAsync(stopAccepting.Token));
            }
        });
        var options = new BrokerOptions
        {
            Mode = BrokerMode.External,
            Host = "127.0.0.1",
            Port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port,
            ConnectTimeout = TimeSpan.FromMilliseconds(300),
            ConnectAttempts = 1,
            Tls = pki?.BrokerTls,
        };
        var failures = new ConcurrentQueue<string>();
        await using (var connection = new ServiceConnection(options, Secrets, RealTime.Instance))
        {
            connection.ConnectFailed += failures.Enqueue;

            await connection.StartAsync(CancellationToken.None).WaitAsync(TestTimeouts.Signal);

            Assert.False(connection.IsConnected);
        }

        await stopAccepting.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accepting);
        foreach (var socket in held)
        {
            socket.Dispose();
        }

        Assert.NotEmpty(held);
        Assert.Contains(failures, f => f.StartsWith("could not connect to 127.0.0.1:", StringComparison.Ordinal));
    }

    /// <summary>A stand-in for the event pipeline: records what is delivered, in order, and lets a test await a payload.</summary>
    private sealed class Inbox(Task? full = null)
    {
        private readonly ConcurrentQueue<string> payloads = new();
        private readonly ConcurrentDictionary<string, TaskCompletionSource> arrivals = new(StringComparer.Ordinal);

        public IReadOnlyCollection<string> Payloads => payloads;

        /// <summary>The name of the thread each delivery ran on.</summary>
        public ConcurrentQueue<string?> Threads { get; } = new();

        public async ValueTask DeliverAsync(ReceivedMessage message, CancellationToken cancellationToken)
        {
            var payload = Encoding.UTF8.GetString(message.Payload.Span);
            Threads.Enqueue(Thread.CurrentThread.Name);
            payloads.Enqueue(payload);
            Signal(payload).TrySetResult();
            if (full is not null)
            {
                await full.WaitAsync(cancellationToken);
            }
        }

        public Task Arrived(string payload) => Signal(payload).Task.WaitAsync(TestTimeouts.Signal);

        private TaskCompletionSource Signal(string payload) =>
            arrivals.GetOrAdd(payload, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task PublishAsync_OverThePublishOnlyConnection_ReachesTheReaderAndReturnsAcceptedAfterThePubAck(BrokerKind kind, bool receiveThreads)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance);
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await DecisionsReaderAsync(broker);

        var outcome = await PublishGrantAsync(connection);
        var nobodyListening = await connection.PublishAsync(Topics.DoorCommands(MainEntrance), Encoding.UTF8.GetBytes("unlock"), retain: false, CancellationToken.None);

        Assert.True(connection.PublishesSeparately);
        Assert.Equal(PublishOutcome.Ok, outcome);
        Assert.Equal(PublishOutcome.Ok, nobodyListening);
        Assert.Equal("grant", Encoding.UTF8.GetString((await reader.NextMessageAsync()).Payload.Span));
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task PublishAsync_ManyAtOnce_EachSettledByItsOwnPubAck_AndEachDeliveredOnce(BrokerKind kind, bool receiveThreads)
    {
        // Packet identifiers: 300 publishes in flight together, each answered by its own PUBACK, none lost or doubled.
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance);
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await DecisionsReaderAsync(broker);
        var sent = Enumerable.Range(0, 300).Select(i => "d" + i).ToList();

        var outcomes = await Task.WhenAll(sent.Select(payload =>
            connection.PublishAsync(Topics.ReaderDecisions(MainReaderIn), Encoding.UTF8.GetBytes(payload), retain: false, CancellationToken.None)));

        Assert.All(outcomes, outcome => Assert.Equal(PublishOutcome.Ok, outcome));
        var received = new List<string>();
        for (var i = 0; i < sent.Count; i++)
        {
            received.Add(Encoding.UTF8.GetString((await reader.NextMessageAsync()).Payload.Span));
        }

        Assert.Equal(sent.Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    [Trait("control", "NIST-AC-3")]
    public async Task PublishAsync_OnATopicTheServiceMayNotPublish_IsRefusedByTheBroker_AndSaysWhy(BrokerKind kind, bool receiveThreads)
    {
        // The publishing identity cannot forge a reader's event: the broker answers the PUBACK with "not authorized".
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance);
        await connection.StartAsync(CancellationToken.None);

        var outcome = await connection.PublishAsync(Topics.ReaderEvents(MainReaderIn), Encoding.UTF8.GetBytes("forged"), retain: false, CancellationToken.None);

        Assert.True(connection.PublishesSeparately);
        Assert.False(outcome.Accepted);
        Assert.Equal("broker answered NotAuthorized", outcome.Failure);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PublishAsync_InFlightWhenTheBrokerDies_FailsInsteadOfWaitingForever(bool receiveThreads)
    {
        // Mosquitto is frozen (SIGSTOP), so the PUBLISH reaches its socket and no PUBACK comes; then it is killed.
        await using var broker = await MosquittoProcess.StartAsync(Topology, Secrets, new AccessControl.Protocol.Topics());
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance);
        await connection.StartAsync(CancellationToken.None);
        Assert.True(connection.PublishesSeparately);
        await FreezeAsync(broker);

        var publishing = PublishGrantAsync(connection);
        await broker.StopAsync();
        var outcome = await publishing.WaitAsync(TestTimeouts.Signal);

        Assert.False(outcome.Accepted);
        Assert.StartsWith("connection lost while publishing", outcome.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALostConnection_WhileTheClientIsStillClosingIt_IsWaitedFor_NotReportedAsASurpriseNorThrownFromDispose()
    {
        // MQTTnet closes a lost connection on a task of its own, which first waits for the received-message handler (here
        // held by a full pipeline), and refuses to connect meanwhile. The loop used to try anyway: an "unexpected
        // InvalidOperationException" report each round, and, when the service was being disposed at that moment, the
        // exception escaped from DisposeAsync (the flaky PublishAsync_InFlightWhenTheBrokerDies test under load).
        await using var broker = await MosquittoProcess.StartAsync(Topology, Secrets, new AccessControl.Protocol.Topics());
        var time = new HardwareSim.Support.ManualTimeProvider(EmbeddedBrokerFixture.Now);
        var pipelineFull = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inbox = new Inbox(pipelineFull.Task);
        var reports = new ConcurrentQueue<string>();
        var options = OptionsFor(broker, receiveThreads: false) with { PublisherConnection = false };
        await using var connection = new ServiceConnection(options, Secrets, time, inbox.DeliverAsync);
        connection.ConnectFailed += reports.Enqueue;
        await connection.StartAsync(CancellationToken.None);
        await using (var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn))
        {
            await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "swipe");
        }

        await inbox.Arrived("swipe");
        await FreezeAsync(broker);
        var publishing = PublishGrantAsync(connection);
        await broker.StopAsync();
        // The publish in flight fails once the client has started closing the connection, which it cannot finish.
        Assert.False((await publishing.WaitAsync(TestTimeouts.Signal)).Accepted);
        await OneLoopRoundAsync(time, options.PingInterval);

        Assert.DoesNotContain(reports, r => r.Contains("unexpected", StringComparison.Ordinal));
        pipelineFull.TrySetResult();
    }

    /// <summary>Lets the connection loop, waiting out its ping interval, run one round and wait again.</summary>
    private static async Task OneLoopRoundAsync(HardwareSim.Support.ManualTimeProvider time, TimeSpan interval)
    {
        await LoopWaitingAsync(time, interval);
        time.Advance(interval);
        await LoopWaitingAsync(time, interval);
    }

    private static async Task LoopWaitingAsync(HardwareSim.Support.ManualTimeProvider time, TimeSpan interval)
    {
        while (true)
        {
            var changed = time.TimersChanged;
            if (time.IsArmed(interval))
            {
                return;
            }

            await changed.WaitAsync(TestTimeouts.Signal);
        }
    }

    /// <summary>Stops Mosquitto (SIGSTOP): what reaches its socket is neither read nor answered.</summary>
    private static async Task FreezeAsync(MosquittoProcess broker)
    {
        using var freeze = System.Diagnostics.Process.Start("kill", ["-STOP", broker.LastProcessId!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await freeze.WaitForExitAsync();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task PublishAsync_WhenTheBrokerRefusesThePublishingLogin_GoesOverTheMainConnection_AndSaysSo(BrokerKind kind)
    {
        // A broker whose config predates the publishing identity: the login is refused, the answers still go out.
        await using var broker = await TestBrokers.StartAsync(kind);
        var failures = System.Threading.Channels.Channel.CreateUnbounded<string>();
        await using var connection = new ServiceConnection(OptionsFor(broker) with { PublisherClientId = "ac-service-unknown" }, Secrets, RealTime.Instance);
        connection.ConnectFailed += why => failures.Writer.TryWrite(why);
        await connection.StartAsync(CancellationToken.None);
        await using var reader = await DecisionsReaderAsync(broker);

        var outcome = await PublishGrantAsync(connection);

        var reported = await failures.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Signal);
        Assert.Contains("publishing connection as ac-service-unknown", reported, StringComparison.Ordinal);
        Assert.Contains("over the main connection", reported, StringComparison.Ordinal);
        Assert.Contains("the broker refused it", reported, StringComparison.Ordinal);
        Assert.False(connection.PublishesSeparately);
        Assert.True(connection.IsConnected);
        Assert.Equal(PublishOutcome.Ok, outcome);
        Assert.Equal("grant", Encoding.UTF8.GetString((await reader.NextMessageAsync()).Payload.Span));
    }

    [Fact]
    public async Task RefusedPublishingLogin_IsTriedAgainOnlyAfterAMinute_AndReportedOnce()
    {
        // A broker without the identity must not get (and log) a refused login on every ping round.
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        var time = new HardwareSim.Support.ManualTimeProvider(EmbeddedBrokerFixture.Now);
        var refusedAt = new ConcurrentQueue<DateTimeOffset>();
        var secondRefusal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        broker.Refused += refusal =>
        {
            if (refusal.Username == "ac-service-unknown")
            {
                refusedAt.Enqueue(time.GetUtcNow());
                if (refusedAt.Count == 2)
                {
                    secondRefusal.TrySetResult();
                }
            }
        };
        var reports = new ConcurrentQueue<string>();
        await using var connection = new ServiceConnection(OptionsFor(broker) with { PublisherClientId = "ac-service-unknown" }, Secrets, time);
        connection.ConnectFailed += reports.Enqueue;

        await connection.StartAsync(CancellationToken.None);
        await time.AdvanceUntilAsync(secondRefusal.Task);

        var attempts = refusedAt.ToArray();
        Assert.True(attempts[1] - attempts[0] >= ServiceConnection.PublisherRetryAfterRefusal, $"retried after {attempts[1] - attempts[0]}");
        Assert.Single(reports, r => r.Contains("ac-service-unknown", StringComparison.Ordinal));
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task ThePublishingConnection_WhenTheBrokerDropsIt_IsReconnectedAtOnce_NotAtTheNextPingRound()
    {
        // Mosquitto drops ac-service-out alone when another client logs in with its client id (a session takeover). The
        // ping timer never fires here: only the publishing connection's own disconnect can wake the connection loop,
        // whose reconnection then takes the session back and drops the intruder.
        await using var broker = await MosquittoProcess.StartAsync(Topology, Secrets, new AccessControl.Protocol.Topics());
        var time = new HardwareSim.Support.ManualTimeProvider(EmbeddedBrokerFixture.Now);
        var options = OptionsFor(broker);
        await using var connection = new ServiceConnection(options, Secrets, time);
        await connection.StartAsync(CancellationToken.None);
        Assert.True(connection.PublishesSeparately);
        await using var reader = await DecisionsReaderAsync(broker);

        await using var intruder = await TestMqttClient.ConnectAsync(
            broker.Port, DeviceSecrets.ServicePublisherUsername, Secrets.For(DeviceSecrets.ServicePublisherUsername), options.PublisherClientId);
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, intruder.Result.ResultCode);
        await intruder.Disconnected.WaitAsync(TestTimeouts.Signal);
        await LoopWaitingAsync(time, options.PingInterval);

        Assert.True(connection.PublishesSeparately);
        Assert.True(connection.IsConnected);
        Assert.Equal(PublishOutcome.Ok, await PublishGrantAsync(connection));
        Assert.Equal("grant", Encoding.UTF8.GetString((await reader.NextMessageAsync()).Payload.Span));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task PublishAsync_WhenNotConnected_ReturnsAFailureInsteadOfThrowing(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker), Secrets, RealTime.Instance);

        var outcome = await connection.PublishAsync(Topics.Alarms, Encoding.UTF8.GetBytes("x"), retain: false, CancellationToken.None);

        Assert.False(outcome.Accepted);
        Assert.Equal("not connected to the broker", outcome.Failure);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task PublishAsync_OverAConnectionClosedAndDisposedAfterItWasFoundConnected_ReturnsAFailureInsteadOfThrowing(BrokerKind kind)
    {
        // The state a publish meets when the service is disposed (goodbye, then the client released) between its own
        // connected check and MQTTnet's: MQTTnet then throws ObjectDisposedException, which the pipeline did not expect.
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker), Secrets, RealTime.Instance);
        var publishing = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServicePublisherUsername);
        await using (publishing)
        {
            await publishing.Mqtt.DisconnectAsync(new MQTTnet.MqttClientDisconnectOptionsBuilder().Build());
        }

        var outcome = await connection.SendAsync(publishing.Mqtt, Topics.ReaderDecisions(MainReaderIn), Encoding.UTF8.GetBytes("grant"), retain: false, CancellationToken.None);

        Assert.False(outcome.Accepted);
        Assert.Equal("connection closed while publishing (ObjectDisposedException)", outcome.Failure);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    public async Task WrongProvisioningKey_IsRefused_AndEveryAttemptIsReported(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        var failures = new ConcurrentQueue<string>();
        var wrongKey = new DeviceSecrets(DeviceSecrets.NewKey());
        await using var connection = new ServiceConnection(OptionsFor(broker), wrongKey, RealTime.Instance);
        connection.ConnectFailed += failures.Enqueue;

        await connection.StartAsync(CancellationToken.None);

        Assert.False(connection.IsConnected);
        // Three attempts in the first round: two retries reported by Polly, then the final refusal.
        var firstRound = failures.Take(3).ToList();
        Assert.Equal(3, firstRound.Count);
        Assert.All(firstRound, f => Assert.Contains("refused", f, StringComparison.Ordinal));
        Assert.All(failures, f => Assert.DoesNotContain(wrongKey.For(DeviceSecrets.ServiceUsername), f, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task BrokerDown_AtStart_ConnectsOnceItComesUp(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await broker.StopAsync();
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var connection = new ServiceConnection(OptionsFor(broker), Secrets, RealTime.Instance);
        connection.Connected += () => connected.TrySetResult();

        await connection.StartAsync(CancellationToken.None);
        var connectedWhileDown = connection.IsConnected;
        await broker.StartAgainAsync();
        await connected.Task.WaitAsync(TestTimeouts.Signal);

        Assert.False(connectedWhileDown);
        Assert.True(connection.IsConnected);
    }

    [Theory]
    [MemberData(nameof(KindsAndReading))]
    public async Task BrokerRestart_ReconnectsAndResubscribes(BrokerKind kind, bool receiveThreads)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var connection = new ServiceConnection(OptionsFor(broker, receiveThreads), Secrets, RealTime.Instance);
        await connection.StartAsync(CancellationToken.None);
        Assert.True(connection.IsConnected);
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Disconnected += reason => lost.TrySetResult(reason);
        connection.Connected += () => reconnected.TrySetResult();

        await broker.StopAsync();
        await lost.Task.WaitAsync(TestTimeouts.Signal);
        await broker.StartAgainAsync();
        await reconnected.Task.WaitAsync(TestTimeouts.Signal);

        // Subscriptions did not survive the broker (clean sessions, no persistence): this arrives only if the
        // connection subscribed again after reconnecting.
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "after restart");
        var message = await connection.Received.ReadAsync().AsTask().WaitAsync(TestTimeouts.Signal);
        Assert.Equal(Topics.ReaderEvents(MainReaderIn), message.Topic);
        Assert.Equal("after restart", Encoding.UTF8.GetString(message.Payload.Span));
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public void Constructor_InvalidOptions_SaysWhatIsWrong()
    {
        var options = new BrokerOptions { Mode = BrokerMode.External, Port = 0, TopicRoot = "ac/v1/", ConnectAttempts = 0 };

        var error = Assert.Throws<ArgumentException>(() => new ServiceConnection(options, Secrets, RealTime.Instance));

        Assert.Contains("Broker:Port", error.Message, StringComparison.Ordinal);
        Assert.Contains("Broker:TopicRoot", error.Message, StringComparison.Ordinal);
        Assert.Contains("Broker:ConnectAttempts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultOptions_AreValid() => Assert.Empty(new BrokerOptions().Validate());

    /// <summary>
    /// Publishes e0 and waits until the inbox holds it (its delivery then waits while the inbox is full), then publishes
    /// e1..e<paramref name="behind"/> behind it; returns those.
    /// </summary>
    private static async Task<List<string>> HoldUpAsync(TestMqttClient reader, Inbox inbox, int behind)
    {
        await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "e0");
        await inbox.Arrived("e0");
        var sent = Enumerable.Range(1, behind).Select(i => "e" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var payload in sent)
        {
            await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), payload);
        }

        return sent;
    }

    /// <summary>The main entrance reader, subscribed to its decisions.</summary>
    private static async Task<TestMqttClient> DecisionsReaderAsync(ITestBroker broker)
    {
        var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await reader.SubscribeGrantedAsync(Topics.ReaderDecisions(MainReaderIn));
        return reader;
    }

    private static Task<PublishOutcome> PublishGrantAsync(ServiceConnection connection) =>
        connection.PublishAsync(Topics.ReaderDecisions(MainReaderIn), Encoding.UTF8.GetBytes("grant"), retain: false, CancellationToken.None);
}
