using System.Net.Http.Headers;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// The auditor's question "which visitors did this operator escort into the server room, and when?" (NIST PE-8 visitor
/// access records, PCI DSS 9.3): a visitor's entry row has the visitor as its person and names the escort only in its
/// detail, so <c>person=</c> cannot answer it and <c>escort=</c> does, over the running service's API and its CLI.
/// </summary>
public class EscortLogQueryTests
{
    private const string In = "rdr-sr1-in";
    private const string Out = "rdr-sr1-out";

    [Fact]
    [Trait("control", "NIST-PE-8")]
    [Trait("control", "PCI-9.3.4")]
    public async Task LogByEscort_GivesTheEntriesOfTheVisitorsTheyBroughtIn_NotTheirOwnSwipes_AndCombinesWithTheOtherFilters()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var entry = await edge.ReaderAsync(In);
        var exit = await edge.ReaderAsync(Out);

        // 09:00: the visitor alone is refused (no escort to name), then comes in behind the operator, who later walks out
        // and leaves them inside (visitor_unescorted). All of it indexed before the second visit.
        Assert.Equal("escort_required", (await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);
        await edge.PresentCardAndFingerAsync(entry, Operator);
        Assert.True((await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        edge.Clock.Advance(Duration.FromMinutes(20));
        Assert.True((await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await edge.AlarmRowAsync(AlarmTypes.VisitorUnescorted);
        Assert.True((await exit.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        edge.Edge.Index.CatchUpFully();

        // 10:20: a second visitor, whose row may or may not be indexed yet when asked for.
        edge.Clock.Advance(Duration.FromHours(1));
        await edge.PresentCardAndFingerAsync(entry, Operator);
        Assert.True((await entry.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        TestPeople.Add(edge.Edge.Database, "p-auditor");
        using var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("auditor", OperatorRole.Auditor, "test", "p-auditor"));

        var entries = await PageAsync(http, "escort=p-mkoch&kind=access");
        Assert.Equal([("v-ewagner", "grant", In), ("v-hyilmaz", "grant", In)], entries.Select(r => (r.Person, r.Decision, r.Reader)));
        Assert.Equal([Instant.FromUtc(2026, 12, 1, 9, 0), Instant.FromUtc(2026, 12, 1, 10, 20)], entries.Select(r => r.At));

        var secondVisit = await PageAsync(http, "escort=p-mkoch&decision=grant&from=2026-12-01T10:00:00Z&to=2026-12-01T11:00:00Z");
        Assert.Equal(["v-hyilmaz"], secondVisit.Select(r => r.Person));

        var alarm = Assert.Single(await PageAsync(http, "escort=p-mkoch&kind=alarm"));
        Assert.Equal((AlarmTypes.VisitorUnescorted, "door-sr1", "v-ewagner"), (alarm.Reason, alarm.Door, alarm.Person));

        Assert.Empty(await PageAsync(http, "escort=p-mkoch&person=p-mkoch")); // the escort's own swipes name no escort
        Assert.Empty(await PageAsync(http, "escort=p-jweber"));
        Assert.Equal(3, (await PageAsync(http, "person=p-mkoch&kind=access&decision=grant")).Count); // person= finds their own: two entries, one exit

        // Paged one row at a time, as the other filters page.
        var all = await PageAsync(http, "escort=p-mkoch");
        var paged = new List<long>();
        string? next = null;
        do
        {
            using var page = JsonDocument.Parse(await http.GetStringAsync("api/v1/log?escort=p-mkoch&limit=1" + (next is null ? "" : "&after=" + next)));
            paged.AddRange(page.RootElement.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("seq").GetInt64()));
            next = Text(page.RootElement, "next");
        }
        while (next is not null);

        Assert.Equal(3, all.Count);
        Assert.Equal(all.Select(r => r.Seq), paged);
    }

    [Fact]
    [Trait("control", "NIST-PE-2(3)")]
    [Trait("control", "NIST-PE-8")]
    public async Task LogByPerson_OfAVisitorLeftBehind_HoldsTheUnescortedAlarm_BesideTheirOwnSwipes()
    {
        // The auditor's other question: "show me everything about this visitor". Their history must say that they were
        // left alone in the server room, not only that they went in and out.
        await using var edge = await EdgeHarness.StartAsync();
        var entry = await edge.ReaderAsync(In);
        var exit = await edge.ReaderAsync(Out);
        await edge.PresentCardAndFingerAsync(entry, Operator);
        Assert.True((await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Assert.True((await entry.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Assert.True((await exit.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Assert.True((await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await edge.AlarmRowAsync(AlarmTypes.VisitorUnescorted);

        var query = new EntryLogQuery(edge.Edge.Database);
        var left = query.Find(new LogFilter { PersonId = "v-ewagner" }).Where(r => r.Kind != LogKinds.Admin).ToList(); // not the site file's rows creating them
        Assert.Equal([(LogKinds.Access, "grant"), (LogKinds.Alarm, AlarmTypes.VisitorUnescorted)],
            left.Select(r => (r.Kind, r.Kind == LogKinds.Alarm ? r.Reason : r.Decision)));
        Assert.Contains("p-mkoch", left[1].Detail, StringComparison.Ordinal);

        // The visitor who went out first was not left behind: no alarm in their history, and none names the escort as person.
        Assert.DoesNotContain(query.Find(new LogFilter { PersonId = "v-hyilmaz" }), r => r.Kind == LogKinds.Alarm);
        Assert.DoesNotContain(query.Find(new LogFilter { PersonId = "p-mkoch" }), r => r.Kind == LogKinds.Alarm);
    }

    [Fact]
    [Trait("control", "NIST-PE-8")]
    [Trait("control", "PCI-9.3.4")]
    public async Task LogCli_WithEscort_ListsTheVisitorsThatOperatorBroughtIn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var entry = await edge.ReaderAsync(In);
        await edge.PresentCardAndFingerAsync(entry, Operator);
        Assert.True((await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Assert.True((await entry.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = LogCommand.Run(CliArgs.Parse(["--db", edge.Edge.Database.Path, "--escort", "p-mkoch", "--door", "door-sr1", "--json"], LogCommand.Flags).Args!, output, error);

        Assert.True(code == 0, error.ToString());
        var rows = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonSerializer.Deserialize<LogEntry>(line, AdminJson.Options)!).ToList();
        Assert.Equal(["v-ewagner", "v-hyilmaz"], rows.Select(r => r.PersonId));
        Assert.All(rows, r => Assert.Contains("\"escort\":\"p-mkoch\"", r.Detail, StringComparison.Ordinal));
    }

    private static async Task<List<(long Seq, Instant At, string? Person, string? Decision, string? Reason, string? Reader, string? Door)>> PageAsync(HttpClient http, string query)
    {
        using var page = JsonDocument.Parse(await http.GetStringAsync("api/v1/log?" + query));
        Assert.Null(Text(page.RootElement, "next")); // one page holds the answer
        return [.. page.RootElement.GetProperty("items").EnumerateArray().Select(r => (
            r.GetProperty("seq").GetInt64(),
            NodaTime.Text.InstantPattern.ExtendedIso.Parse(r.GetProperty("at").GetString()!).GetValueOrThrow(),
            Text(r, "personId"), Text(r, "decision"), Text(r, "reason"), Text(r, "readerId"), Text(r, "doorId")))];
    }

    private static string? Text(JsonElement row, string name) =>
        row.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
