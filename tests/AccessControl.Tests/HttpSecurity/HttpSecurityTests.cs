using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Hr;
using AccessControl.HttpSecurity;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Hr;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using AccessControl.Visitors;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.HttpSecurity;

/// <summary>The HTTP API's hardening over real HTTP: security headers, the failed sign-in lockout, the request rate limit.</summary>
public class HttpSecurityTests
{
    private static async Task<(EdgeHarness Edge, HttpClient Http)> StartAsync(HttpSecurityOptions? options = null)
    {
        var edge = await EdgeHarness.StartAsync(configure: s => s with { Http = options ?? new HttpSecurityOptions() });
        return (edge, new HttpClient { BaseAddress = edge.Host.HttpAddress });
    }

    private static HttpRequestMessage Get(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    private static string AdminToken(EdgeHarness edge)
    {
        TestPeople.Add(edge.Edge.Database, "p-admin-1");
        return new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("admin-1", OperatorRole.Admin, "test", "p-admin-1");
    }

    [Fact]
    [Trait("control", "PCI-6.4")]
    [Trait("control", "NIST-SC-8")]
    public async Task EveryResponse_CarriesTheSecurityHeaders_GrantedRefusedOrPublic()
    {
        var (edge, http) = await StartAsync();
        await using var _ = edge;
        using var __ = http;
        var token = AdminToken(edge);

        foreach (var request in new[] { Get("api/v1/health", null), Get("api/v1/people", null), Get("api/v1/people", token), Get("api/v1/no-such-thing", token) })
        {
            using var response = await http.SendAsync(request);
            foreach (var (name, value) in HttpSecurityExtensions.Headers)
            {
                var values = response.Headers.TryGetValues(name, out var h) ? h : response.Content.Headers.TryGetValues(name, out var c) ? c : [];
                Assert.True(values.Contains(value), $"{request.RequestUri} ({(int)response.StatusCode}) lacks {name}: {value}");
            }
        }
    }

    [Fact]
    [Trait("control", "PCI-8.3.4")]
    [Trait("control", "NIST-AC-7")]
    public async Task RepeatedBadTokens_LockTheAddressOut_EvenForAValidToken_UntilTheLockoutEnds()
    {
        var options = new HttpSecurityOptions { FailuresBeforeLockout = 5, FailureWindow = TimeSpan.FromMinutes(15), LockoutFor = TimeSpan.FromMinutes(10) };
        var (edge, http) = await StartAsync(options);
        await using var _ = edge;
        using var __ = http;
        var token = AdminToken(edge);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var bad = await http.SendAsync(Get("api/v1/people", "guess-" + i));
            statuses.Add(bad.StatusCode);
        }

        using var locked = await http.SendAsync(Get("api/v1/people", token));
        using var health = await http.SendAsync(Get("api/v1/health", null));
        var lockout = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == "auth.lockout");
        edge.Clock.Advance(Duration.FromMinutes(10));
        using var after = await http.SendAsync(Get("api/v1/people", token));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(10), locked.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"until\"", lockout.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("guess-", lockout.Detail, StringComparison.Ordinal);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "auth.lockout" }));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    [Trait("control", "NIST-AC-7")]
    [Trait("control", "NIST-AC-2")]
    public async Task TheTokenOfASuspendedPerson_IsRefused403_WithoutCountingAsAFailedSignIn()
    {
        // The token is known, not guessed: a script of a suspended operator on a shared jump host must not lock everyone
        // else on that address out.
        var options = new HttpSecurityOptions { FailuresBeforeLockout = 3, FailureWindow = TimeSpan.FromMinutes(15), LockoutFor = TimeSpan.FromMinutes(10) };
        var (edge, http) = await StartAsync(options);
        await using var _ = edge;
        using var __ = http;
        var token = AdminToken(edge);
        TestPeople.Add(edge.Edge.Database, "p-sam");
        var suspended = new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("sam", OperatorRole.Auditor, "test", "p-sam");
        using (var connection = edge.Edge.Database.Open())
        {
            Dapper.SqlMapper.Execute(connection, "UPDATE people SET status = 'suspended' WHERE id = 'p-sam'");
        }

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var refused = await http.SendAsync(Get("api/v1/people", suspended));
            statuses.Add(refused.StatusCode);
        }

        using var other = await http.SendAsync(Get("api/v1/people", token));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Forbidden, s));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "auth.lockout" }));
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task MoreRequestsThanTheWindowAllows_AreRefused429_WithRetryAfter()
    {
        var (edge, http) = await StartAsync(new HttpSecurityOptions { RequestsPerWindow = 4, RequestWindow = TimeSpan.FromHours(1) });
        await using var _ = edge;
        using var __ = http;
        var token = AdminToken(edge);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var response = await http.SendAsync(Get("api/v1/people", token));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal(TimeSpan.FromHours(1), response.Headers.RetryAfter?.Delta);
            }
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    /// <summary>
    /// 8 MiB in a field capped at 500 characters: refused 413 in the API's problem shape before the endpoint reads it.
    /// A chunked body (no Content-Length) is cut off by Kestrel at the limit, and answered the same way; it is just
    /// over the limit here, so that HttpClient, which reads no answer before it has sent the whole body, has finished
    /// sending when the answer comes (else it sees a closed connection).
    /// </summary>
    [Fact]
    [Trait("control", "NIST-SC-5")]
    [Trait("control", "NIST-SI-10")]
    public async Task AnOversizedJsonBody_IsRefused413_BeforeItIsParsed_WithOrWithoutContentLength()
    {
        var (edge, http) = await StartAsync();
        await using var _ = edge;
        using var __ = http;
        using var desk = VisitDesk.For(edge);
        static byte[] Body(int purpose) => Encoding.UTF8.GetBytes($$"""{"site":"demo","purpose":"{{new string('x', purpose)}}"}""");

        // A client that announces a large body waits for 100 Continue before sending it: it gets the 413 instead, and sends nothing.
        using var waiting = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = EdgeHarness.Timeout }) { BaseAddress = edge.Host.HttpAddress };
        waiting.DefaultRequestHeaders.Authorization = desk.Host.DefaultRequestHeaders.Authorization;
        using var announcedRequest = new HttpRequestMessage(HttpMethod.Post, "api/v1/visits")
        {
            Content = new ByteArrayContent(Body(8 * 1024 * 1024)) { Headers = { ContentType = new("application/json") } },
            Headers = { ExpectContinue = true },
        };
        using var announced = await waiting.SendAsync(announcedRequest);
        using var chunked = await desk.Host.PostAsync("api/v1/visits",
            new StreamContent(new ChunkedOnly(Body(new HttpSecurityOptions().MaxRequestBodyBytes))) { Headers = { ContentType = new("application/json") } });

        foreach (var response in new[] { announced, chunked })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = (await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
            Assert.Equal((413, $"At most {new HttpSecurityOptions().MaxRequestBodyBytes} bytes."), (problem.Status, problem.Detail));
        }

        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
    }

    /// <summary>
    /// The largest bodies the API legitimately takes still go through: a visit of the most visitors allowed with the
    /// longest names (non-Latin, three bytes a character), and an HR feed batch just under its own 1 MiB limit.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task TheLargestLegitimateBodies_AreAccepted()
    {
        var (edge, http) = await StartAsync();
        await using var _ = edge;
        using var __ = http;
        using var desk = VisitDesk.For(edge);
        using var hr = new HrFeedClient(edge);
        var longest = new string('語', AdminService.MaxNameLength);
        var visitors = Enumerable.Range(0, new VisitorOptions().MaxVisitorsPerVisit).Select(_ => (object)new { name = longest, organization = longest }).ToArray();
        var batch = HrFeedClient.Body(HrFeedClient.Termination("hr-big-1"));
        var padded = batch.Concat(Enumerable.Repeat((byte)' ', HrFeedApi.MaxBodyBytes - batch.Length)).ToArray();

        var visit = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(visitors: visitors));
        using var feed = await hr.PostSignedAsync(padded);

        Assert.True(visit.StatusCode == HttpStatusCode.Created, await visit.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, feed.StatusCode);
    }

    /// <summary>
    /// A Content-Length of 20 MB, and a few bytes of it sent: the 413 comes at once, in the problem shape, with no more of
    /// the body sent, and the connection is closed after it. Before, the service read (and discarded) up to 30 MB of an
    /// announced body before answering, so the client had to send it all.
    /// </summary>
    [Theory]
    [InlineData("/api/v1/visits", 64 * 1024)]
    [InlineData(HrFeedApi.Path, HrFeedApi.MaxBodyBytes)]
    [Trait("control", "NIST-SC-5")]
    public async Task AnAnnouncedBodyOverTheLimit_IsRefused413AtOnce_WithoutTheRestBeingSent(string path, int limit)
    {
        var (edge, http) = await StartAsync();
        await using var _ = edge;
        using var __ = http;
        using var connection = new System.Net.Sockets.TcpClient();
        await connection.ConnectAsync(edge.Host.HttpAddress.Host, edge.Host.HttpAddress.Port);
        var stream = connection.GetStream();

        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: {edge.Host.HttpAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n\r\n{{\"site\":\"demo\","));
        var response = await RawHttp.ReadResponseAsync(stream).WaitAsync(EdgeHarness.Timeout);
        var closed = await RawHttp.ClosedAsync(stream).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(413, response.Status);
        Assert.Equal("application/problem+json", response.Headers["Content-Type"].Split(';')[0]);
        Assert.Equal("close", response.Headers["Connection"]);
        var problem = System.Text.Json.JsonSerializer.Deserialize<AdminApi.ApiProblem>(response.Body, AdminJson.Options)!;
        Assert.Equal((413, $"At most {limit} bytes."), (problem.Status, problem.Detail));
        Assert.True(closed);
    }

    /// <summary>
    /// A chunked body (no Content-Length to refuse it by) that goes on past the endpoint's 1 MiB: cut off with 413 at the
    /// limit, the connection closed, and the server has taken no more off the connection than the limit and Kestrel's
    /// request buffer, though the client would have sent 64 MiB.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AChunkedBodyGrowingPastTheLimit_IsCut413_AndTheServerReadsNoMoreThanTheLimitAndABuffer()
    {
        const int Limit = HrFeedApi.MaxBodyBytes;
        await using var host = await CountingHost.StartAsync(Limit);
        using var connection = new System.Net.Sockets.TcpClient();
        await connection.ConnectAsync(System.Net.IPAddress.Loopback, host.Port);
        var stream = connection.GetStream();
        await stream.WriteAsync("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray());
        using var stop = new CancellationTokenSource();

        var sending = RawHttp.SendChunksAsync(stream, 64 * 1024 * 1024, stop.Token);
        var response = await RawHttp.ReadResponseAsync(stream).WaitAsync(EdgeHarness.Timeout);
        await stop.CancelAsync();
        var sent = await sending.WaitAsync(EdgeHarness.Timeout);
        var received = await host.ConnectionEnded.WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(413, response.Status);
        Assert.Equal("close", response.Headers["Connection"]);
        var problem = System.Text.Json.JsonSerializer.Deserialize<AdminApi.ApiProblem>(response.Body, AdminJson.Options)!;
        Assert.Equal((413, $"At most {Limit} bytes."), (problem.Status, problem.Detail));
        Assert.True(sent > Limit, $"the client sent {sent} bytes only");
        Assert.True(received <= Limit + host.RequestBufferBytes + 64 * 1024, $"the server took {received} bytes off the connection");
    }

    /// <summary>A body stream of unknown length, so that HttpClient sends it chunked, without Content-Length.</summary>
    private sealed class ChunkedOnly(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}

public class SignInThrottleTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 12, 1, 9, 0);

    private static readonly HttpSecurityOptions Options = new() { FailuresBeforeLockout = 3, FailureWindow = TimeSpan.FromMinutes(10), LockoutFor = TimeSpan.FromMinutes(5) };

    [Fact]
    [Trait("control", "NIST-AC-7")]
    public void FailuresWithinTheWindow_LockTheKey_ForTheLockoutTime()
    {
        var throttle = new SignInThrottle(Options);

        Assert.Null(throttle.RecordFailure("10.0.0.1", T0));
        Assert.Null(throttle.RecordFailure("10.0.0.1", T0 + Duration.FromMinutes(1)));
        var locked = throttle.RecordFailure("10.0.0.1", T0 + Duration.FromMinutes(2));

        Assert.Equal(T0 + Duration.FromMinutes(7), locked);
        Assert.True(throttle.IsLockedOut("10.0.0.1", T0 + Duration.FromMinutes(6), out var until));
        Assert.Equal(T0 + Duration.FromMinutes(7), until);
        Assert.False(throttle.IsLockedOut("10.0.0.1", T0 + Duration.FromMinutes(7), out _));
        Assert.False(throttle.IsLockedOut("10.0.0.2", T0 + Duration.FromMinutes(6), out _));
    }

    [Fact]
    [Trait("control", "NIST-AC-7")]
    public void FailuresOlderThanTheWindow_DoNotCount_AndASuccessClearsTheCount()
    {
        var throttle = new SignInThrottle(Options);

        throttle.RecordFailure("k", T0);
        throttle.RecordFailure("k", T0 + Duration.FromMinutes(1));
        Assert.Null(throttle.RecordFailure("k", T0 + Duration.FromMinutes(11))); // the first one has left the window
        throttle.RecordSuccess("k");
        Assert.Null(throttle.RecordFailure("k", T0 + Duration.FromMinutes(12)));
        Assert.Null(throttle.RecordFailure("k", T0 + Duration.FromMinutes(12)));
        Assert.NotNull(throttle.RecordFailure("k", T0 + Duration.FromMinutes(12)));
    }

    [Fact]
    public void ASuccessDuringALockout_DoesNotLiftIt()
    {
        var throttle = new SignInThrottle(Options with { FailuresBeforeLockout = 1 });
        throttle.RecordFailure("k", T0);

        throttle.RecordSuccess("k");

        Assert.True(throttle.IsLockedOut("k", T0 + Duration.FromMinutes(1), out _));
    }
}
