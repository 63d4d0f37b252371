using System.Net;
using System.Text;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
using AccessControl.Tests.Support;
using Dapper;
using NodaTime;

namespace AccessControl.Tests.Fingerprints;

/// <summary>The fingerprint API's roles, segregation of duties, and what reaches the database file.</summary>
public class FingerprintApiTests
{
    private static object Body(byte[] template, string finger = "right-index", bool replace = false) =>
        new { finger, station = "enroll-station-1", format = "ac-sim-v1", template = Convert.ToBase64String(template), replace };

    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "NIST-PE-2")]
    public async Task TheEnrollmentRole_EnrollsListsAndRevokes_ButNeitherRekeysNorReadsTheReconciliation()
    {
        await using var desk = await FingerprintDesk.StartHttpAsync();
        using var enroller = desk.ClientFor(desk.Tokens!.CreateToken("erik", OperatorRole.Enrollment, "test", "p-erik"));
        var template = FingerprintDesk.NewTemplate();

        var enrolled = await enroller.PostAsync("/api/v1/people/p-alice/fingerprints", FingerprintDesk.Json(Body(template)));
        var created = JsonDocument.Parse(await enrolled.Content.ReadAsStringAsync()).RootElement;
        var id = created.GetProperty("templateId").GetString()!;
        var list = await enroller.GetAsync("/api/v1/people/p-alice/fingerprints");
        var listText = await list.Content.ReadAsStringAsync();
        var rekey = await enroller.PostAsync("/api/v1/fingerprints/rekey", null);
        var reconciliation = await enroller.GetAsync("/api/v1/fingerprints/reconciliation");
        var revoked = await enroller.DeleteAsync($"/api/v1/fingerprints/{id}?reason=re-enrollment");

        Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
        Assert.Equal(("erik", "enroll-station-1", "p-alice", true), (created.GetProperty("enrolledBy").GetString(), created.GetProperty("station").GetString(),
            created.GetProperty("personId").GetString(), created.GetProperty("active").GetBoolean()));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(id, JsonDocument.Parse(listText).RootElement[0].GetProperty("templateId").GetString());
        Assert.DoesNotContain(Convert.ToBase64String(template), listText, StringComparison.Ordinal);
        Assert.DoesNotContain("\"template\"", listText, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, rekey.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, reconciliation.StatusCode);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.False(desk.Store.Find(id)!.Active);
        Assert.Equal(2, desk.Rows(LogKinds.Security).Count(r => r.Reason == "auth.forbidden"));
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    public async Task Auditors_ReadListsAndTheReconciliation_Only_AndOtherRolesNothing()
    {
        await using var desk = await FingerprintDesk.StartHttpAsync();
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");
        var id = desk.Store.ListActive()[0].TemplateId;
        using var auditor = desk.ClientFor(desk.Tokens!.CreateToken("audrey", OperatorRole.Auditor, "test", "p-audrey"));
        using var host = desk.ClientFor(desk.Tokens.CreateToken("jweber", OperatorRole.Host, "test", "p-jweber"));

        Assert.Equal(HttpStatusCode.OK, (await auditor.GetAsync("/api/v1/people/p-alice/fingerprints")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await auditor.GetAsync("/api/v1/fingerprints/reconciliation")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await auditor.PostAsync("/api/v1/people/p-bob/fingerprints", FingerprintDesk.Json(Body([1, 2, 3])))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await auditor.DeleteAsync($"/api/v1/fingerprints/{id}?reason=x")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await auditor.PostAsync("/api/v1/fingerprints/rekey", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.GetAsync("/api/v1/people/p-alice/fingerprints")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.PostAsync("/api/v1/people/p-bob/fingerprints", FingerprintDesk.Json(Body([1, 2, 3])))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await desk.Client!.GetAsync("/api/v1/fingerprints/reconciliation")).StatusCode);
        Assert.True(desk.Store.Find(id)!.Active);
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    public async Task Admins_DoEverything_ButNobodyEnrollsThemselves()
    {
        await using var desk = await FingerprintDesk.StartHttpAsync();
        using var admin = desk.ClientFor(desk.Tokens!.CreateToken("root", OperatorRole.Admin, "test", "p-frida"));
        using var enroller = desk.ClientFor(desk.Tokens.CreateToken("erik", OperatorRole.Enrollment, "test", "p-erik"));

        var enrolled = await admin.PostAsync("/api/v1/people/p-bob/fingerprints", FingerprintDesk.Json(Body([1, 2, 3])));
        var again = await admin.PostAsync("/api/v1/people/p-bob/fingerprints", FingerprintDesk.Json(Body([4, 5, 6])));
        var rekey = await admin.PostAsync("/api/v1/fingerprints/rekey", null);
        var reconciliation = await admin.GetAsync("/api/v1/fingerprints/reconciliation");
        var adminSelf = await admin.PostAsync("/api/v1/people/p-frida/fingerprints", FingerprintDesk.Json(Body([1, 2, 3])));
        var enrollerSelf = await enroller.PostAsync("/api/v1/people/p-erik/fingerprints", FingerprintDesk.Json(Body([1, 2, 3])));
        var badBase64 = await enroller.PostAsync("/api/v1/people/p-bob/fingerprints", FingerprintDesk.Json(new { finger = "left-index", station = "s", format = "ac-sim-v1", template = "not base64!" }));
        var noReason = await enroller.DeleteAsync("/api/v1/fingerprints/fpt-x");

        Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("finger_enrolled", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, rekey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, reconciliation.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, adminSelf.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, enrollerSelf.StatusCode);
        Assert.Contains("\"code\":\"self_enrollment\"", await enrollerSelf.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(desk.Store.List(FingerprintDesk.Frida));
        Assert.Empty(desk.Store.List(FingerprintDesk.Erik));
        Assert.Equal(HttpStatusCode.BadRequest, badBase64.StatusCode);
        Assert.DoesNotContain("not base64", await badBase64.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task Rekey_ByAnAdminLimitedToOneSite_OverTheApiAndTheCli_IsRefused_AndNoTemplateIsReencrypted()
    {
        var (before, after) = FingerprintDesk.KeyRotation();
        await using var desk = await FingerprintDesk.StartHttpAsync(before);
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");
        desk.KeyringSource = () => after;
        var token = desk.Tokens!.CreateToken("root-dc1", OperatorRole.Admin, "test", "p-frida", site: "dc1");
        using var limited = desk.ClientFor(token);

        var rekey = await limited.PostAsync("/api/v1/fingerprints/rekey", null);
        var cli = await RunAsync(desk.Address!.ToString(), token, ["fingerprints", "rekey"]);

        Assert.Equal(HttpStatusCode.Forbidden, rekey.StatusCode);
        Assert.Contains("\"code\":\"not_approver_for_site\"", await rekey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Failed, cli.Code);
        Assert.Contains("not_approver_for_site", cli.Error, StringComparison.Ordinal);
        Assert.Equal("k1", Assert.Single(desk.Store.ListActive()).KeyId);
        Assert.DoesNotContain(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Rekey);
        var refused = desk.Rows(LogKinds.Security).Where(r => r.Reason == "fingerprint.rekey.refused").ToList();
        Assert.Equal(2, refused.Count);
        Assert.All(refused, r => Assert.Equal(("root-dc1", null), (r.Actor, r.SiteId)));
        Assert.Contains("\"tokenSite\":\"dc1\"", refused[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task TheReconciliation_ForAnAuditorLimitedToOneSite_IsRefused_ForItNamesEverySitesPeople()
    {
        await using var desk = await FingerprintDesk.StartHttpAsync();
        using var limited = desk.ClientFor(desk.Tokens!.CreateToken("audrey-dc1", OperatorRole.Auditor, "test", "p-audrey", site: "dc1"));

        var reconciliation = await limited.GetAsync("/api/v1/fingerprints/reconciliation");

        Assert.Equal(HttpStatusCode.Forbidden, reconciliation.StatusCode);
        var body = await reconciliation.Content.ReadAsStringAsync();
        Assert.Contains("\"code\":\"not_approver_for_site\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("p-bob", body, StringComparison.Ordinal);
        var refused = Assert.Single(desk.Rows(LogKinds.Security), r => r.Reason == "fingerprints.reconciliation.refused");
        Assert.Equal(("audrey-dc1", null), (refused.Actor, refused.SiteId));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public void EnrollmentTokens_MustNameTheirPerson()
    {
        var path = Path.Combine(Path.GetTempPath(), "ac-fptok-" + Guid.NewGuid().ToString("N")[..12] + ".db");
        try
        {
            var database = new Storage.Database(path);
            database.Migrate();
            TestPeople.Add(database, "p-erik");
            var tokens = new ApiTokens(database, new NodaTime.Testing.FakeClock(FingerprintDesk.Start));

            Assert.Throws<ArgumentException>(() => tokens.CreateToken("erik", OperatorRole.Enrollment, "test", personId: null!));
            Assert.Equal(new OperatorIdentity("erik", OperatorRole.Enrollment, "p-erik"), tokens.Authenticate(tokens.CreateToken("erik", OperatorRole.Enrollment, "test", "p-erik")));
            using var connection = database.Open();
            Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => connection.Execute(
                "INSERT INTO operator_tokens (token_hash, operator, role, created_at, created_by) VALUES ('x', 'y', 'enrollment', 0, 'z')"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + "*"))
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>THE test: after enrollments over the API, no plaintext template is anywhere in the database files.</summary>
    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task TheDatabaseFiles_IncludingTheWal_HoldNoPlaintextTemplate_NeitherRawNorBase64()
    {
        await using var desk = await FingerprintDesk.StartHttpAsync();
        using var enroller = desk.ClientFor(desk.Tokens!.CreateToken("erik", OperatorRole.Enrollment, "test", "p-erik"));
        var templates = new List<byte[]>();
        foreach (var (person, finger) in new[] { ("p-alice", "right-index"), ("p-alice", "left-index"), ("p-bob", "right-thumb"), ("p-dave", "right-index") })
        {
            var template = FingerprintDesk.NewTemplate();
            templates.Add(template);
            var response = await enroller.PostAsync($"/api/v1/people/{person}/fingerprints", FingerprintDesk.Json(Body(template, finger)));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        var replacement = FingerprintDesk.NewTemplate();
        templates.Add(replacement);
        Assert.Equal(HttpStatusCode.Created, (await enroller.PostAsync("/api/v1/people/p-bob/fingerprints", FingerprintDesk.Json(Body(replacement, "right-thumb", replace: true)))).StatusCode);
        var dave = desk.Store.List(FingerprintDesk.Dave)[0].TemplateId;
        Assert.Equal(HttpStatusCode.OK, (await enroller.DeleteAsync($"/api/v1/fingerprints/{dave}?reason=test")).StatusCode);
        Assert.Equal(4, desk.Templates.ActiveTemplates(FingerprintDesk.Alice).Count + desk.Templates.ActiveTemplates(FingerprintDesk.Bob).Count + 1);

        var files = Directory.GetFiles(desk.Directory, "accesscontrol.db*");
        Assert.Contains(files, f => f.EndsWith("-wal", StringComparison.Ordinal));
        var contents = files.Select(ReadShared).ToList();
        Assert.True(contents.Sum(c => c.Length) > 0);
        foreach (var template in templates)
        {
            var base64 = Encoding.ASCII.GetBytes(Convert.ToBase64String(template));
            var hex = Encoding.ASCII.GetBytes(Convert.ToHexString(template[..32]));
            var hexLower = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(template[..32]));
            foreach (var content in contents)
            {
                Assert.True(content.AsSpan().IndexOf(template) < 0, "a plaintext template is in a database file");
                Assert.True(content.AsSpan().IndexOf(template.AsSpan(0, 16)) < 0, "the start of a plaintext template is in a database file");
                Assert.True(content.AsSpan().IndexOf(template.AsSpan(150, 16)) < 0, "the middle of a plaintext template is in a database file");
                Assert.True(content.AsSpan().IndexOf(base64) < 0, "a base64 template is in a database file");
                Assert.True(content.AsSpan().IndexOf(base64.AsSpan(40, 24)) < 0, "part of a base64 template is in a database file");
                Assert.True(content.AsSpan().IndexOf(hex) < 0 && content.AsSpan().IndexOf(hexLower) < 0, "a hex template is in a database file");
            }
        }

        // The control: the same search finds what is there (the audit rows' template ids), so it would find a template.
        var someId = Encoding.UTF8.GetBytes(desk.Store.ListActive()[0].TemplateId);
        Assert.Contains(contents, c => c.AsSpan().IndexOf(someId) >= 0);
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task Revoke_ThenACheckpoint_LeavesNoCiphertextOfTheRevokedTemplateInTheDatabaseFile()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var enrolled = (await desk.EnrollAsync(FingerprintDesk.Alice, "right-index")).Value!;
        byte[] ciphertext;
        using (var connection = desk.Database.Open())
        {
            ciphertext = connection.QuerySingle<byte[]>("SELECT ciphertext FROM fingerprint_templates WHERE template_id = @id", new { id = enrolled.TemplateId });
        }

        Assert.Contains(Directory.GetFiles(desk.Directory, "accesscontrol.db*"), f => ReadShared(f).AsSpan().IndexOf(ciphertext.AsSpan(0, 32)) >= 0);

        await desk.Service.RevokeAsync("erik", enrolled.TemplateId, "test");
        desk.Writer.Dispose();
        using (var connection = desk.Database.Open())
        {
            connection.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        }

        foreach (var file in Directory.GetFiles(desk.Directory, "accesscontrol.db*"))
        {
            Assert.True(ReadShared(file).AsSpan().IndexOf(ciphertext.AsSpan(0, 32)) < 0, $"the revoked ciphertext is still in {Path.GetFileName(file)}");
        }
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task TheCli_EnrollsFromAFile_Lists_AndPrintsTheReconciliation()
    {
        await using var desk = await FingerprintDesk.StartHttpAsync();
        var enrollToken = desk.Tokens!.CreateToken("erik", OperatorRole.Enrollment, "test", "p-erik");
        var auditToken = desk.Tokens.CreateToken("audrey", OperatorRole.Auditor, "test", "p-audrey");
        var file = Path.Combine(desk.Directory, "alice-right-index.tpl");
        await File.WriteAllBytesAsync(file, FingerprintDesk.NewTemplate());
        var url = desk.Address!.ToString();

        var enroll = await RunAsync(url, enrollToken, ["fingerprints", "enroll", "--person", "p-alice", "--finger", "right-index", "--station", "desk-2", "--format", "ac-sim-v1", "--template-file", file]);
        var twice = await RunAsync(url, enrollToken, ["fingerprints", "enroll", "--person", "p-alice", "--finger", "right-index", "--station", "desk-2", "--template-file", file]);
        var list = await RunAsync(url, auditToken, ["fingerprints", "list", "--person", "p-alice"]);
        var report = await RunAsync(url, auditToken, ["fingerprints", "reconcile"]);
        var json = await RunAsync(url, auditToken, ["fingerprints", "reconcile", "--json"]);
        var usage = await RunAsync(url, auditToken, ["fingerprints", "enroll", "--person", "p-alice"]);

        Assert.True(enroll.Code == 0, enroll.Error);
        Assert.Equal(ExitCodes.Failed, twice.Code);
        Assert.Contains("[finger_enrolled]", twice.Error, StringComparison.Ordinal);
        Assert.Equal("desk-2", JsonDocument.Parse(list.Output).RootElement[0].GetProperty("station").GetString());
        Assert.Contains("People with access to a two-factor zone but no template: 2", report.Output, StringComparison.Ordinal);
        Assert.Contains("p-bob", report.Output, StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(json.Output).RootElement.GetProperty("notEnrolled").GetArrayLength());
        Assert.Equal(ExitCodes.Usage, usage.Code);
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string url, string token, string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync([.. args, "--url", url], new NodaTime.Testing.FakeClock(FingerprintDesk.Start), output, error,
            name => name == RemoteCommands.TokenVariable ? token : null, new AccessControl.EntryLog.OsAccount("tester", 1000));
        return (code ?? -1, output.ToString(), error.ToString());
    }

    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
