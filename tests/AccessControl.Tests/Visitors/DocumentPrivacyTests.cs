using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using AccessControl.Admin;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Visitors;
using Microsoft.Extensions.Logging;
using NodaTime.Testing;

namespace AccessControl.Tests.Visitors;

/// <summary>The document number is reduced to a keyed hash and its last four characters before anything keeps it.</summary>
public class DocumentPrivacyTests
{
    private const string Number = "X7Q4 92KL 0031";
    private const string Normalized = "X7Q492KL0031";

    [Theory]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-8")]
    [InlineData("Q7K4")]
    [InlineData("Q7K42")]
    [InlineData("Q7K42B")]
    public async Task AShortDocumentNumber_IsNotShownWhole_AsItsLastFour_InTheAnswer_TheVisit_OrTheEntryLog(string number)
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        edge.TreatAsSecret("the short document number", number);
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);

        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(number: number));
        var answer = await checkIn.Content.ReadAsStringAsync();
        var read = await (await desk.Auditor.GetAsync($"api/v1/visits/{visit.Id}")).Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, checkIn.StatusCode);
        var shown = await checkIn.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options);
        var lastFour = shown!.Visitors[0].Document!.LastFour;
        Assert.True(lastFour.Length <= number.Length / 2, $"'{lastFour}' shows more than half of a {number.Length}-character number");
        Assert.EndsWith(lastFour, number, StringComparison.Ordinal);
        var row = Assert.Single(edge.Rows(new LogFilter { Reason = "visit.check_in" }));
        foreach (var (text, where) in new[] { (answer, "the check-in's answer"), (read, "GET /visits/{id}"), (row.Detail ?? "", "the visit.check_in row") })
        {
            Assert.False(text.Contains(number, StringComparison.Ordinal), where + " holds the whole document number");
        }
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-8")]
    public async Task TheDocumentNumber_IsNeverInTheDatabaseFile_TheEntryLog_TheApi_OrTheLogs()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-pii-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var logs = new CapturingLoggerProvider();
        try
        {
            var clock = new FakeClock(EdgeHarness.BusinessHours);
            await File.WriteAllTextAsync(Path.Combine(directory, "provisioning.key"), Convert.ToBase64String(DeviceSecrets.NewKey()));
            var settings = new ServiceSettings
            {
                DataDirectory = directory,
                SiteFile = EdgeHarness.DemoSiteFile,
                HttpUrl = "http://127.0.0.1:0",
                Broker = new BrokerOptions { Port = 0 },
                SupervisionInterval = TimeSpan.FromDays(1),
                Pipeline = new global::AccessControl.Events.PipelineOptions { ClockJumpThreshold = null },
            };
            var answers = new StringBuilder();
            await using (var host = AccessControlHost.Create(settings, clock, RealTime.Instance, l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)))
            {
                await host.StartAsync();
                using var desk = new VisitDesk(host.HttpAddress, host.Edge.Database, clock);
                await desk.AddBadgeAsync();
                var visit = await desk.RequestAsync();
                await desk.ApproveAsync(visit.Id);

                var malformed = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(number: Number + "/"));
                var wrongName = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(number: Number, name: "Someone Else"));
                var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(number: Number));
                var read = await desk.Auditor.GetAsync($"api/v1/visits/{visit.Id}");
                var checkOut = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 });
                foreach (var response in new[] { malformed, wrongName, checkIn, read, checkOut })
                {
                    answers.AppendLine(await response.Content.ReadAsStringAsync());
                }

                Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
                Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongName.StatusCode);
                Assert.Equal(HttpStatusCode.OK, checkIn.StatusCode);
                Assert.Equal(HttpStatusCode.OK, checkOut.StatusCode);
                Assert.Contains("\"lastFour\":\"0031\"", answers.ToString(), StringComparison.Ordinal);

                var rows = host.Edge.Log.Find(new LogFilter { Limit = EntryLogQuery.MaxLimit });
                Assert.Contains(rows, r => r.Reason == "visit.check_in");
                Assert.All(rows, r => AssertAbsent(string.Join("|", r.Detail, r.Card, r.Actor, r.PersonId), "entry log row " + r.Seq));
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            AssertAbsent(answers.ToString(), "API answers");
            Assert.NotEmpty(logs.Lines);
            AssertAbsent(string.Join("\n", logs.Lines), "ILogger output");
            foreach (var file in Directory.GetFiles(directory))
            {
                var bytes = await File.ReadAllBytesAsync(file);
                foreach (var form in new[] { Number, Normalized, "X7Q492KL" })
                {
                    Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(form)) < 0, $"{Path.GetFileName(file)} holds the number in UTF-8");
                    Assert.True(bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(form)) < 0, $"{Path.GetFileName(file)} holds the number in UTF-16");
                }
            }

            Assert.True(File.Exists(Path.Combine(directory, "pii.key")));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    public void TheHash_IsKeyed_AndDependsOnTheIssuer()
    {
        var key = new byte[32];
        var other = Enumerable.Repeat((byte)1, 32).ToArray();

        var hash = new DocumentNumberHasher(key).Hash("DEU", Normalized);

        Assert.Matches("^[0-9a-f]{64}$", hash);
        Assert.Equal(hash, new DocumentNumberHasher(key).Hash("DEU", Normalized));
        Assert.NotEqual(hash, new DocumentNumberHasher(other).Hash("DEU", Normalized));
        Assert.NotEqual(hash, new DocumentNumberHasher(key).Hash("FRA", Normalized));
        Assert.Throws<ArgumentException>(() => new DocumentNumberHasher(new byte[16]));
    }

    [Fact]
    [Trait("control", "GDPR-5.1c")]
    [Trait("control", "PCI-9.3.3")]
    public async Task TheHostAndTheApprover_ReadAVisit_WithoutItsVisitorsDocument_WhichTheDeskSecurityAndAuditorsStillSee()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var visit = await desk.CheckedInVisitAsync();

        foreach (var (client, who) in new[] { (desk.Host, "host"), (desk.Approver, "approver") })
        {
            var one = await (await client.GetAsync($"api/v1/visits/{visit.Id}")).Content.ReadAsStringAsync();
            var list = await (await client.GetAsync("api/v1/visits?date=2026-12-01")).Content.ReadAsStringAsync();
            foreach (var (text, route) in new[] { (one, "GET /visits/{id}"), (list, "GET /visits") })
            {
                Assert.Contains("\"name\":", text, StringComparison.Ordinal); // the visitor is there,
                Assert.DoesNotContain("\"document\"", text, StringComparison.Ordinal); // but not their passport
                Assert.False(text.Contains("0T47", StringComparison.Ordinal), $"{route} shows the {who} the document's last four characters");
                Assert.False(text.Contains("2031-05-31", StringComparison.Ordinal), $"{route} shows the {who} the document's expiry");
            }
        }

        foreach (var client in new[] { desk.Frontdesk, desk.Security, desk.Auditor })
        {
            var shown = (await client.GetFromJsonAsync<VisitView>($"api/v1/visits/{visit.Id}", AdminJson.Options))!;
            Assert.Equal("0T47", shown.Visitors[0].Document!.LastFour);
        }
    }

    [Fact]
    [Trait("control", "GDPR-5.1c")]
    public async Task AnAdminReadingTheLog_GetsACheckInsRowWithoutItsDocument_WhichTheAuditorStillReads_AndTheStoredRowKeeps()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.CheckedInVisitAsync();

        var byAdmin = await (await desk.Admin.GetAsync("api/v1/log?reason=visit.check_in")).Content.ReadFromJsonAsync<LogPage>(AdminJson.Options);
        var byAuditor = await (await desk.Auditor.GetAsync("api/v1/log?reason=visit.check_in")).Content.ReadFromJsonAsync<LogPage>(AdminJson.Options);

        var adminRow = Assert.Single(byAdmin!.Items);
        var auditorRow = Assert.Single(byAuditor!.Items);
        Assert.DoesNotContain("\"document\"", adminRow.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("0T47", adminRow.Detail, StringComparison.Ordinal);
        Assert.Contains("\"badge\":", adminRow.Detail, StringComparison.Ordinal);          // the rest of the row as written
        Assert.Contains("\"lastFour\":\"0T47\"", auditorRow.Detail, StringComparison.Ordinal);
        Assert.Equal(auditorRow.Detail, Assert.Single(edge.Rows(new LogFilter { Reason = "visit.check_in" })).Detail);
    }

    [Fact]
    public void DocumentInput_ToString_WithholdsTheNumber()
    {
        Assert.DoesNotContain(Normalized, new DocumentInput("passport", "DEU", Normalized, "2030-01-01").ToString(), StringComparison.Ordinal);
    }

    private static void AssertAbsent(string text, string where)
    {
        Assert.False(text.Contains(Normalized, StringComparison.OrdinalIgnoreCase), $"{where} holds the document number");
        Assert.False(text.Contains(Number, StringComparison.OrdinalIgnoreCase), $"{where} holds the document number as typed");
        Assert.False(text.Contains("X7Q492KL", StringComparison.OrdinalIgnoreCase), $"{where} holds most of the document number");
    }
}
