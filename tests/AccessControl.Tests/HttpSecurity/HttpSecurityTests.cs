using System.Net;
using System.Net.Http.Headers;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.HttpSecurity;
using AccessControl.Tests.EndToEnd;
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

    private static string AdminToken(EdgeHarness edge) => new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("admin-1", OperatorRole.Admin, "test");

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
