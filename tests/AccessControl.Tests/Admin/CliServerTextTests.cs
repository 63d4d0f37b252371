using System.Net;
using System.Text;
using System.Text.Json;
using AccessControl.Cli;

namespace AccessControl.Tests.Admin;

/// <summary>
/// What the CLI prints that the server sent (a problem's title, detail and field errors, which may quote what someone
/// typed) cannot move the operator's cursor, erase a line, start a forged one or reorder the text after it. JSON
/// carries an ESC as <c>\u001b</c>, and the CLI's parser gives it back as the character itself.
/// </summary>
public sealed class CliServerTextTests
{
    private const string Crafted = "x\r\nerror: forged\x1B[2K\u202Eevil";
    private const string Shown = @"x\r\nerror: forged\x1B[2K\u202Eevil";

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task RemoteCommand_Refused_PrintsTheProblemsTitleDetailAndFieldErrors_WithControlCharactersEscaped()
    {
        var problem = JsonSerializer.Serialize(new
        {
            title = "Refused " + Crafted,
            detail = "because " + Crafted,
            code = "bad",
            errors = new[] { new { field = "name" + Crafted, message = "is " + Crafted } },
        });
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await RemoteCommands.RunAsync("person", Args("add", "p-7", "--name", "K", "--kind", "employee"), output, error,
            Environment, new Answering(HttpStatusCode.BadRequest, problem));

        Assert.Equal(1, code);
        Assert.Equal(
            [$"error: 400 Refused {Shown} [bad]: because {Shown}", $"  name{Shown}: is {Shown}"],
            error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static string? Environment(string name) => name switch
    {
        RemoteCommands.UrlVariable => "http://127.0.0.1:9/",
        RemoteCommands.TokenVariable => "token",
        _ => null,
    };

    private static CliArgs Args(params string[] args) => CliArgs.Parse(args).Args!;

    /// <summary>Whatever answers at the address the operator gave: here, always the one answer.</summary>
    private sealed class Answering(HttpStatusCode status, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/problem+json") });
    }
}
