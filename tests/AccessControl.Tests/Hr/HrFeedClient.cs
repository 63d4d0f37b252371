using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Hr;
using AccessControl.Tests.EndToEnd;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Tests.Hr;

/// <summary>The HR system of the tests: posts batches to the running service, signed with its HR feed key.</summary>
internal sealed class HrFeedClient(EdgeHarness edge) : IDisposable
{
    private readonly HttpClient http = new() { BaseAddress = edge.Host.HttpAddress };

    public HrFeedSigner Signer => edge.Host.Services.GetRequiredService<HrFeedSigner>();

    public static object Termination(string eventId, string person = "p-mkoch", string? effectiveAt = null) =>
        new { eventId, type = "termination", personId = person, effectiveAt };

    public static object Transfer(string eventId, string person, params string[] levels) =>
        new { eventId, type = "transfer", personId = person, accessLevels = levels };

    public static byte[] Body(params object[] events) => JsonSerializer.SerializeToUtf8Bytes(new { events }, AdminJson.Options);

    /// <summary>Posts a body with the given headers (null leaves a header out), and <paramref name="query"/> after the path.</summary>
    public async Task<HttpResponseMessage> PostRawAsync(byte[] body, string? timestamp, string? signature, string query = "")
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, HrFeedApi.Path + query) { Content = new ByteArrayContent(body) };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (timestamp is not null)
        {
            message.Headers.Add(HrFeedApi.TimestampHeader, timestamp);
        }

        if (signature is not null)
        {
            message.Headers.Add(HrFeedApi.SignatureHeader, signature);
        }

        return await http.SendAsync(message).WaitAsync(EdgeHarness.Timeout);
    }

    /// <summary>Signs a body as sent at <paramref name="at"/> (default: the service clock's now) and posts it.</summary>
    public Task<HttpResponseMessage> PostSignedAsync(byte[] body, Instant? at = null, string query = "")
    {
        var timestamp = InstantPattern.General.Format(at ?? edge.Clock.GetCurrentInstant());
        return PostRawAsync(body, timestamp, Signer.Sign(timestamp, body), query);
    }

    /// <summary>Posts signed events and returns their results, asserting a 200.</summary>
    public async Task<IReadOnlyList<HrEventResult>> SendAsync(params object[] events)
    {
        using var response = await PostSignedAsync(Body(events));
        return await ResultsAsync(response);
    }

    public static async Task<IReadOnlyList<HrEventResult>> ResultsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonSerializer.Deserialize<HrBatchResult>(text, AdminJson.Options)!.Results;
    }

    public void Dispose() => http.Dispose();
}
