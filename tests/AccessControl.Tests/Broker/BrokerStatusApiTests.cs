using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Broker;

/// <summary><c>GET /api/v1/broker</c>: what a monitor polls to know the service hears its devices and how it answers them.</summary>
public class BrokerStatusApiTests
{
    [Theory]
    [InlineData(BrokerKind.Embedded, "embedded", "in-process", null)]
    [InlineData(BrokerKind.Mosquitto, "external", "client", true)]
    [Trait("control", "NIST-AC-6")]
    public async Task Status_SaysHowTheServiceMeetsItsBroker_ToAnAuditorOnly(BrokerKind kind, string mode, string link, bool? separately)
    {
        await using var edge = await EdgeHarness.StartAsync(kind);
        TestPeople.Add(edge.Edge.Database, "p-lee", "p-kai");
        var tokens = new ApiTokens(edge.Edge.Database, edge.Clock);
        using var auditor = Client(edge, tokens.CreateToken("audit-lee", OperatorRole.Auditor, "test", "p-lee"));
        using var frontdesk = Client(edge, tokens.CreateToken("desk-kai", OperatorRole.Frontdesk, "test", "p-kai"));

        using var json = JsonDocument.Parse(await auditor.GetStringAsync("/api/v1/broker"));
        var refused = await frontdesk.GetAsync("/api/v1/broker");

        var root = json.RootElement;
        Assert.Equal(mode, root.GetProperty("mode").GetString());
        Assert.Equal(link, root.GetProperty("link").GetString());
        Assert.True(root.GetProperty("connected").GetBoolean());
        Assert.Equal(edge.BrokerPort, root.GetProperty("port").GetInt32());
        // Only a client link has a publishing connection; for the in-process link the field is left out.
        Assert.Equal(separately, root.TryGetProperty("publishesSeparately", out var publishes) ? publishes.GetBoolean() : null);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task Status_WhileTheBrokerIsDown_SaysNotConnected()
    {
        await using var edge = await EdgeHarness.StartAsync(BrokerKind.Mosquitto);
        TestPeople.Add(edge.Edge.Database, "p-lee", "p-kai");
        var tokens = new ApiTokens(edge.Edge.Database, edge.Clock);
        using var auditor = Client(edge, tokens.CreateToken("audit-lee", OperatorRole.Auditor, "test", "p-lee"));

        await edge.StopBrokerAsync();
        await WaitUntilDisconnectedAsync(edge);
        using var json = JsonDocument.Parse(await auditor.GetStringAsync("/api/v1/broker"));

        Assert.False(json.RootElement.GetProperty("connected").GetBoolean());
    }

    private static HttpClient Client(EdgeHarness edge, string token)
    {
        var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static Task WaitUntilDisconnectedAsync(EdgeHarness edge)
    {
        var link = edge.Edge.Connection!;
        var down = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Disconnected += _ => down.TrySetResult();
        if (!link.IsConnected)
        {
            down.TrySetResult();
        }

        return down.Task.WaitAsync(EdgeHarness.Timeout);
    }
}
