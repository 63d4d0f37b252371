using System.Net;
using System.Text;
using AccessControl.Cli;

namespace AccessControl.Tests.Admin;

/// <summary>
/// The CLI sends the operator's bearer token (and, at check-in, the visitor's document number) with every request: to a
/// plain <c>http://</c> address of another machine it would cross the network in clear. The service listens in plain
/// HTTP on loopback only; from elsewhere it is reached through a TLS proxy, <c>https://</c>.
/// </summary>
public sealed class CliTransportTests
{
    [Theory]
    [Trait("control", "NIST-SC-8")]
    [Trait("control", "NIST-IA-5")]
    [InlineData("http://edge01.example:8080")]
    [InlineData("http://192.0.2.10:8080/")]
    public async Task RemoteCommand_ToAPlainHttpAddressOfAnotherMachine_IsRefused_AndSendsNothing(string url)
    {
        var (output, error, server) = (new StringWriter(), new StringWriter(), new Recording());

        var code = await RemoteCommands.RunAsync("person", Args("show", "p-7"), output, error, EnvironmentWith(url), server);

        Assert.Equal(2, code);
        Assert.Equal(0, server.Requests);
        Assert.Contains($"{url} is plain HTTP to another machine", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret-token", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("http://localhost:8080")]
    [InlineData("http://[::1]:8080")]
    [InlineData("https://edge01.example")]
    public async Task RemoteCommand_ToLoopbackOrOverTls_IsSent(string url)
    {
        var (output, error, server) = (new StringWriter(), new StringWriter(), new Recording());

        var code = await RemoteCommands.RunAsync("person", Args("show", "p-7"), output, error, EnvironmentWith(url), server);

        Assert.True(code == 0, error.ToString());
        Assert.Equal(1, server.Requests);
    }

    private static Func<string, string?> EnvironmentWith(string url) => name => name switch
    {
        RemoteCommands.UrlVariable => url,
        RemoteCommands.TokenVariable => "secret-token",
        _ => null,
    };

    private static CliArgs Args(params string[] args) => CliArgs.Parse(args).Args!;

    private sealed class Recording : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}", Encoding.UTF8, "application/json") });
        }
    }
}
