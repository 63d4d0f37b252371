using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Sites;
using Dapper;
using NodaTime;

namespace AccessControl.Tests.Admin;

public sealed class CliTests : IAsyncLifetime
{
    /// <summary>The OS account the token commands run as in these tests.</summary>
    private static readonly OsAccount Root = new("root", 0);

    /// <summary>The OS account the other commands run as.</summary>
    private static readonly OsAccount Tester = new("tester", 1000);

    private AdminHost host = null!;

    public async Task InitializeAsync() => host = await AdminHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_PrintsTheFilteredRowsAsAnAlignedTableInTheSiteTimeZone()
    {
        await LogQueryTests.SeedAsync(host);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = LogCommand.Run(Parse("--db", host.DatabasePath, "--door", "door-hall-a", "--decision", "deny", "--tz", "Europe/Amsterdam"), output, error);

        Assert.Equal(0, code);
        var lines = Lines(output);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("SEQ  TIME ", lines[0]);
        Assert.Matches(@"^2\s+2025-03-03 11:00:00\.000 \+01:00\s+-\s+-\s+access\s+dc1\s+door-hall-a\s+rdr-hall-a-in\s+p-2\s+0A0B0C\s+deny\s+credential_revoked\s+-$", lines[1]);
        Assert.Equal(lines[0].IndexOf("KIND", StringComparison.Ordinal), lines[1].IndexOf("access", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_TimeHappened_FindsABufferedSwipeByItsDeviceTime_AndTheTableShowsItWasBufferedAndWhen()
    {
        await LogQueryTests.SeedAsync(host);
        var night = NodaTime.Instant.FromUtc(2025, 3, 2, 23, 50);
        await host.AppendAsync(new LogEntry
        {
            At = AdminHost.Start + NodaTime.Duration.FromHours(5), Kind = LogKinds.Access, SiteId = "dc1", DoorId = "door-hall-a", ReaderId = "rdr-hall-a-in",
            PersonId = "p-2", Card = "0A0B0C", Source = "readers/rdr-hall-a-in", EventId = "ev-buffered", DeviceSeq = 9, DeviceAt = night, Offline = true,
            Decision = "grant", Reason = "granted",
        });
        string[] theDayBefore = ["--db", host.DatabasePath, "--from", "2025-03-02T00:00:00Z", "--to", "2025-03-03T00:00:00Z", "--tz", "Europe/Amsterdam"];
        var (recorded, happened, error) = (new StringWriter(), new StringWriter(), new StringWriter());

        Assert.Equal(0, LogCommand.Run(Parse(theDayBefore), recorded, error));
        Assert.Equal(0, LogCommand.Run(Parse([.. theDayBefore, "--time", "happened"]), happened, error));

        Assert.Single(Lines(recorded)); // the header alone: it was recorded the next morning
        var lines = Lines(happened);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^SEQ\s+TIME\s+OFFLINE\s+DEVICE TIME\s+KIND\s", lines[0]);
        Assert.Matches(@"^6\s+2025-03-03 15:00:00\.000 \+01:00\s+yes\s+2025-03-03 00:50:00\.000 \+01:00\s+access\s+dc1\s+door-hall-a\s", lines[1]);
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_Json_PrintsOneObjectPerRow()
    {
        await LogQueryTests.SeedAsync(host);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = LogCommand.Run(Parse("--db", host.DatabasePath, "--person", "p-1", "--from", "2025-03-03T09:30:00Z", "--json"), output, error);

        Assert.Equal(0, code);
        var row = JsonSerializer.Deserialize<LogEntry>(Assert.Single(Lines(output)), AdminJson.Options)!;
        Assert.Equal((3L, "no_access_to_zone", AdminHost.Start + NodaTime.Duration.FromHours(2)), (row.Seq, row.Reason, row.At));
    }

    [Theory]
    [InlineData(2, "--db", "DB", "--from", "yesterday")]
    [InlineData(2, "--db", "DB", "--colour", "red")]
    [InlineData(2, "--db", "DB", "--tz", "Mars/Olympus")]
    [InlineData(2, "--door", "d")]
    [InlineData(1, "--db", "/nonexistent/ac.db")]
    public void Log_BadArguments_FailWithAMessage(int expected, params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = LogCommand.Run(Parse([.. args.Select(a => a == "DB" ? host.DatabasePath : a)]), output, error);

        Assert.Equal(expected, code);
        Assert.StartsWith("error: ", error.ToString());
        Assert.Empty(output.ToString());
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCreate_PrintsATokenOnceThatAuthenticatesTheOperator()
    {
        await host.AddPersonAsync("p-carol");
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "carol", "--role", "auditor", "--person", "p-carol"), host.Clock, Root, output, error);

        Assert.Equal(0, code);
        var token = Assert.Single(Lines(output));
        Assert.Equal(43, token.Length); // 32 bytes, base64url without padding
        Assert.Equal(new OperatorIdentity("carol", OperatorRole.Auditor, "p-carol"), host.Tokens.Authenticate(token));
        Assert.DoesNotContain(token, error.ToString());
    }

    public static TheoryData<string> RoleCodes => [.. Enum.GetValues<OperatorRole>().Select(ApiTokens.RoleCode)];

    [Theory]
    [MemberData(nameof(RoleCodes))]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AC-2")]
    public void TokenCreate_WithoutAPerson_IsAUsageError_WhateverTheRole_AndCreatesAndRecordsNothing(string role)
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "frank", "--role", role), host.Clock, Root, output, error);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Empty(Lines(output));
        Assert.Contains("--person ID is required", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(host.Rows(LogKinds.Admin), r => r.Reason == "operator_token.create");
        using var connection = host.Database.Open();
        Assert.Equal(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM operator_tokens WHERE operator = 'frank'"));
    }

    [Theory]
    [InlineData("p-mkcoh", "there is no person 'p-mkcoh'")]      // a typo of p-mkoch: her termination would never revoke it
    [InlineData("p-tfischer", "person 'p-tfischer' is terminated")]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCreate_ForAnUnknownOrTerminatedPerson_IsAUsageErrorNamingTheId_AndCreatesAndRecordsNothing(string person, string why)
    {
        await host.AddPersonAsync("p-mkoch");
        await host.AddPersonAsync("p-tfischer", "terminated");
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "frank", "--role", "admin", "--person", person), host.Clock, Root, output, error);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Empty(Lines(output));
        Assert.Contains(why, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(host.Rows(LogKinds.Admin), r => r.Reason == "operator_token.create");
        using var connection = host.Database.Open();
        Assert.Equal(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM operator_tokens WHERE operator = 'frank'"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    [Trait("control", "NIST-AU-2")]
    public async Task TokenCreateAndRevoke_AreAuditedInTheEntryLog_WithWhoButNeverTheToken_ChainedWithTheServicesRows()
    {
        await host.AddPersonAsync("p-dora");
        var (output, error) = (new StringWriter(), new StringWriter());

        var created = TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "dora", "--role", "approver", "--person", "p-dora", "--site", "fra1"), host.Clock, Root, output, error);
        await host.AppendAsync(new LogEntry { At = host.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = "service", Reason = "test.between" });
        var revoked = TokenCommand.Run(Parse("revoke", "--db", host.DatabasePath, "--operator", "dora", "--by", "sec-officer"), host.Clock, Root, output, error);
        await host.AppendAsync(new LogEntry { At = host.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = "service", Reason = "test.after" });

        Assert.Equal((0, 0), (created, revoked));
        var token = Assert.Single(Lines(output));
        var rows = host.Rows(LogKinds.Admin).Where(r => r.Reason is "operator_token.create" or "operator_token.revoke" or "test.between" or "test.after").OrderBy(r => r.Seq).ToList();
        Assert.Equal(["operator_token.create", "test.between", "operator_token.revoke", "test.after"], rows.Select(r => r.Reason));
        Assert.Equal(["cli:root", "service", "sec-officer", "service"], rows.Select(r => r.Actor));
        var id = Assert.Single(host.Tokens.List(), t => t.Operator == "dora").Id;
        Assert.Equal($$"""{"id":"{{id}}","operator":"dora","role":"approver","person":"p-dora","site":"fra1","osUser":"root","osUid":0}""", rows[0].Detail);
        Assert.Equal($$"""{"operators":["dora"],"ids":["{{id}}"],"osUser":"root","osUid":0}""", rows[2].Detail);
        Assert.All(rows, r => Assert.DoesNotContain(token, r.Detail ?? "", StringComparison.Ordinal));
        Assert.Equal(Enumerable.Range((int)rows[0].Seq, 4).Select(i => (long)i), rows.Select(r => r.Seq));
        Assert.Null(host.Tokens.Authenticate(token));
    }

    [Fact]
    [Trait("control", "NIST-AU-3")]
    [Trait("control", "PCI-10.2")]
    [Trait("control", "ISO27001-A.8.15")]
    public async Task TokenRows_NameTheTokenIds_SoThatATokenSampledFromTheListHasItsCreationAndItsRevocationInTheLog()
    {
        await host.AddPersonAsync("p-dora");
        var (output, error) = (new StringWriter(), new StringWriter());

        // A replacement made before the old token goes: two tokens of one operator, then both revoked by name.
        TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "dora", "--role", "approver", "--person", "p-dora"), host.Clock, Root, output, error);
        host.Clock.Advance(Duration.FromMinutes(1));
        TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "dora", "--role", "approver", "--person", "p-dora"), host.Clock, Root, output, error);
        var listed = host.Tokens.List().Where(t => t.Operator == "dora").Select(t => t.Id).ToList();
        host.Clock.Advance(Duration.FromMinutes(1));
        var revoked = TokenCommand.Run(Parse("revoke", "--db", host.DatabasePath, "--operator", "dora", "--by", "sec-officer"), host.Clock, Root, output, error);

        Assert.Equal(0, revoked);
        Assert.Equal(2, listed.Count);
        var created = host.Rows(LogKinds.Admin).Where(r => r.Reason == "operator_token.create").OrderBy(r => r.Seq).ToList();
        Assert.Equal(listed, created.Select(r => System.Text.Json.JsonDocument.Parse(r.Detail!).RootElement.GetProperty("id").GetString()));
        var revocation = Assert.Single(host.Rows(LogKinds.Admin), r => r.Reason == "operator_token.revoke");
        Assert.Equal(listed, System.Text.Json.JsonDocument.Parse(revocation.Detail!).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetString()));
        Assert.All(host.Tokens.List().Where(t => t.Operator == "dora"), t => Assert.Equal("sec-officer", t.RevokedBy));
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "NIST-AU-3")]
    public async Task TokenCreate_ThatFailsAfterItsRow_IsRecordedAsFailed_NamingTheToken_AndExitsWithAnError()
    {
        await host.AddPersonAsync("p-erin");
        var (output, error) = (new StringWriter(), new StringWriter());
        using (var connection = host.Database.Open())
        {
            // The row is written, then the token's insert fails (a full disk, a busy database, the person terminated meanwhile).
            connection.Execute("CREATE TRIGGER refuse_tokens BEFORE INSERT ON operator_tokens BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
        }

        var code = TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "erin", "--role", "auditor", "--person", "p-erin"), host.Clock, Root, output, error);

        Assert.Equal(1, code);
        Assert.Empty(Lines(output));
        Assert.Contains("no token was created", error.ToString(), StringComparison.Ordinal);
        var rows = host.Rows(LogKinds.Admin).Where(r => r.Reason is "operator_token.create" or "operator_token.create.failed").OrderBy(r => r.Seq).ToList();
        Assert.Equal(["operator_token.create", "operator_token.create.failed"], rows.Select(r => r.Reason));
        var id = JsonDocument.Parse(rows[0].Detail!).RootElement.GetProperty("id").GetString();
        Assert.Equal(id, JsonDocument.Parse(rows[1].Detail!).RootElement.GetProperty("id").GetString());
        Assert.Equal(rows[0].Seq, JsonDocument.Parse(rows[1].Detail!).RootElement.GetProperty("failedSeq").GetInt64());
        Assert.Equal("cli:root", rows[1].Actor);
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task TokenCreate_WhenTheEntryLogCannotBeWritten_CreatesNoToken()
    {
        await host.AddPersonAsync("p-erin");
        var (output, error) = (new StringWriter(), new StringWriter());
        using (var connection = host.Database.Open())
        {
            // Every connection's insert of this row fails inside SQLite, as a full disk or an I/O error would.
            connection.Execute("CREATE TRIGGER refuse_token_rows BEFORE INSERT ON entry_log WHEN NEW.reason = 'operator_token.create' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
        }

        var code = TokenCommand.Run(Parse("create", "--db", host.DatabasePath, "--operator", "erin", "--role", "auditor", "--person", "p-erin"), host.Clock, Root, output, error);

        Assert.Equal(1, code);
        Assert.Empty(Lines(output));
        Assert.Contains("the entry log could not be written", error.ToString(), StringComparison.Ordinal);
        using var check = host.Database.Open();
        Assert.Equal(0L, check.ExecuteScalar<long>("SELECT count(*) FROM operator_tokens WHERE operator = 'erin'"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenList_PrintsATokenALine_WithItsPersonRoleSiteCreationRevocationAndState_NeverTheTokenNorItsHash()
    {
        var tokens = await OperatorTokenListTests.SeedAsync(host);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["token", "list", "--db", host.DatabasePath], host.Clock, output, error, _ => null, Tester);

        Assert.Equal((ExitCodes.Ok, ""), (code, error.ToString()));
        OperatorTokenListTests.AssertNoSecret(output.ToString(), tokens);
        var lines = Lines(output);
        Assert.Equal(7, lines.Length);
        Assert.Matches(@"^ID\s+OPERATOR\s+ROLE\s+PERSON\s+SITE\s+CREATED\s+CREATED-BY\s+REVOKED\s+REVOKED-BY\s+STATE$", lines[0]);
        Assert.Matches(@"^tok-[0-9a-f]{16}\s+zed\s+admin\s+-\s+all\s+1970-01-01T00:00:00Z\s+setup\s+-\s+-\s+token_without_person$", lines[1]);
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^tok-[0-9a-f]{16}\s+alice\s+admin\s+p-alice\s+all\s+2025-03-03T09:00:00Z\s+test-setup\s+-\s+-\s+valid$"));
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^tok-[0-9a-f]{16}\s+dora\s+approver\s+p-dora\s+dc1\s+2025-03-03T09:01:00Z\s+sec-officer\s+-\s+-\s+valid$"));
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^tok-[0-9a-f]{16}\s+erin\s+host\s+p-erin\s+all\s+2025-03-03T09:01:00Z\s+sec-officer\s+2025-03-03T09:02:00Z\s+sec-officer\s+revoked$"));
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^tok-[0-9a-f]{16}\s+sam\s+auditor\s+p-sam\s+all\s+2025-03-03T09:01:00Z\s+sec-officer\s+-\s+-\s+person_suspended$"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenRevoke_ById_RevokesThatTokenOnly_SoAReplacementMadeFirstKeepsWorking_AndIsAudited()
    {
        string[] made = [host.Tokens.CreateToken("amy", OperatorRole.Admin, "test", "p-alice"), host.Tokens.CreateToken("amy", OperatorRole.Admin, "test", "p-alice")];
        var id = host.Tokens.List().First(t => t.Operator == "amy").Id;
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["token", "revoke", "--db", host.DatabasePath, "--id", id, "--by", "sec-officer"], host.Clock, output, error, _ => null, Tester);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains($"revoked token {id} of amy", error.ToString(), StringComparison.Ordinal);
        Assert.Single(made, token => host.Tokens.Authenticate(token) is not null);
        Assert.Equal([(id, OperatorToken.Revoked, "sec-officer")],
            host.Tokens.List().Where(t => t.Operator == "amy" && t.State == OperatorToken.Revoked).Select(t => (t.Id, t.State, t.RevokedBy)));
        var row = Assert.Single(host.Rows(LogKinds.Admin), r => r.Reason == "operator_token.revoke");
        Assert.Equal("sec-officer", row.Actor);
        Assert.Contains(id, row.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCreate_ForASiteTheStoredSiteFilesDoNotHave_IsRefused_NamingTheKnownSites()
    {
        await host.AddPersonAsync("p-dora");
        var account = new OsAccount("alice", 1001);
        var (output, beforeAnySite, typo, known) = (new StringWriter(), new StringWriter(), new StringWriter(), new StringWriter());
        string[] Create(string name, string site) =>
            ["token", "create", "--db", host.DatabasePath, "--operator", name, "--role", "auditor", "--person", "p-dora", "--site", site];

        var early = await AdminCommands.RunAsync(Create("dora-early", "dc9"), host.Clock, output, beforeAnySite, _ => null, account);
        new SiteStore(host.Database, host.Clock).Save(new SiteId("dc1"), "dc1.yaml", "site: dc1", "test");
        var refused = await AdminCommands.RunAsync(Create("dora-typo", "dc9"), host.Clock, output, typo, _ => null, account);
        var accepted = await AdminCommands.RunAsync(Create("dora", "dc1"), host.Clock, output, known, _ => null, account);

        Assert.Equal((0, 2, 0), (early, refused, accepted));
        Assert.Contains("warning", beforeAnySite.ToString(), StringComparison.Ordinal);
        Assert.Contains("dc9", typo.ToString(), StringComparison.Ordinal);
        Assert.Contains("dc1", typo.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("warning", known.ToString(), StringComparison.Ordinal);
        var created = host.Rows(LogKinds.Admin).Where(r => r.Reason == "operator_token.create").Select(r => r.Detail).ToList();
        Assert.DoesNotContain(created, d => d!.Contains("dora-typo", StringComparison.Ordinal));
        Assert.Equal(2, created.Count);
    }

    [Theory]
    [InlineData("hr-feed", "one the service's own rows carry")]            // an admin whose changes read as the HR system's
    [InlineData("termination-sweep", "one the service's own rows carry")]
    [InlineData("site-file:demo.yaml", "one the service's own rows carry")] // as a site file's import
    [InlineData("CLI:root", "one the service's own rows carry")]          // as a CLI command run as root
    [InlineData("alice", "already names the tokens of p-alice")]         // AdminHost's admin: her rows would be two people's
    [InlineData("ALICE", "already names the tokens of p-alice")]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCreate_WithAnOperatorNameOfTheServiceOrOfAnotherPerson_IsAUsageError_AndCreatesAndRecordsNothing(string name, string why)
    {
        await host.AddPersonAsync("p-dora");
        var (output, error) = (new StringWriter(), new StringWriter());
        var before = host.Tokens.List().Count;

        var code = await AdminCommands.RunAsync(["token", "create", "--db", host.DatabasePath, "--operator", name, "--role", "admin", "--person", "p-dora"],
            host.Clock, output, error, _ => null, Tester);

        Assert.Equal(2, code);
        Assert.Contains("--operator: the operator name '" + name + "'", error.ToString(), StringComparison.Ordinal);
        Assert.Contains(why, error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
        Assert.Equal(before, host.Tokens.List().Count);
        Assert.DoesNotContain(host.Rows(LogKinds.Admin), r => r.Reason == "operator_token.create");
        Assert.Throws<ArgumentException>(() => host.Tokens.CreateToken(name, OperatorRole.Admin, "test", "p-dora"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCreate_OfAnotherRoleForThePersonAlreadyBehindTheName_IsAccepted()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["token", "create", "--db", host.DatabasePath, "--operator", "alice", "--role", "auditor", "--person", "p-alice"],
            host.Clock, output, error, _ => null, Tester);

        Assert.Equal(0, code);
        Assert.Equal(2, host.Tokens.List().Count(t => t.Operator == "alice" && t.Person == "p-alice"));
    }

    [Fact]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCommands_RecordTheOsAccountThatRanThem_BesideTheTypedBy_AndTheLogShowsIt()
    {
        await host.AddPersonAsync("p-dora");
        var alice = new OsAccount("alice", 1001);
        var (output, error) = (new StringWriter(), new StringWriter());

        var created = await AdminCommands.RunAsync(["token", "create", "--db", host.DatabasePath, "--operator", "dora", "--role", "auditor", "--person", "p-dora"],
            host.Clock, output, error, _ => null, alice);
        var revoked = await AdminCommands.RunAsync(["token", "revoke", "--db", host.DatabasePath, "--operator", "dora", "--by", "the-ciso"],
            host.Clock, output, error, _ => null, alice);
        var table = new StringWriter();
        var listed = LogCommand.Run(Parse("--db", host.DatabasePath, "--kind", "admin"), table, error);

        Assert.Equal((0, 0, 0), (created, revoked, listed));
        var rows = host.Rows(LogKinds.Admin).Where(r => r.Reason is "operator_token.create" or "operator_token.revoke").OrderBy(r => r.Seq).ToList();
        Assert.Equal(["cli:alice", "the-ciso"], rows.Select(r => r.Actor));
        Assert.All(rows, r => Assert.EndsWith(""","osUser":"alice","osUid":1001}""", r.Detail, StringComparison.Ordinal));
        Assert.Contains("cli:alice (os: alice, uid 1001)", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("the-ciso (os: alice, uid 1001)", table.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenCommands_UnderSudo_RecordTheLoginAccount_AndTheLogShowsItOnlyWhenItIsAnother()
    {
        await host.AddPersonAsync("p-dora");
        var aliceThroughSudo = new OsAccount("accesscontrol", 998, LoginUid: 1000, LoginUser: "alice");
        var loggedInAsItself = new OsAccount("accesscontrol", 998, LoginUid: 998);
        var (output, error) = (new StringWriter(), new StringWriter());

        var created = await AdminCommands.RunAsync(["token", "create", "--db", host.DatabasePath, "--operator", "dora", "--role", "auditor", "--person", "p-dora", "--by", "the-ciso"],
            host.Clock, output, error, _ => null, aliceThroughSudo);
        var revoked = await AdminCommands.RunAsync(["token", "revoke", "--db", host.DatabasePath, "--operator", "dora", "--by", "the-cto"],
            host.Clock, output, error, _ => null, loggedInAsItself);
        var table = new StringWriter();
        var listed = LogCommand.Run(Parse("--db", host.DatabasePath, "--kind", "admin"), table, error);

        Assert.Equal((0, 0, 0), (created, revoked, listed));
        var rows = host.Rows(LogKinds.Admin).Where(r => r.Reason is "operator_token.create" or "operator_token.revoke").OrderBy(r => r.Seq).ToList();
        Assert.EndsWith(""","osUser":"accesscontrol","osUid":998,"loginUid":1000,"loginUser":"alice"}""", rows[0].Detail, StringComparison.Ordinal);
        Assert.EndsWith(""","osUser":"accesscontrol","osUid":998,"loginUid":998}""", rows[1].Detail, StringComparison.Ordinal);
        Assert.Contains("the-ciso (os: accesscontrol, uid 998; login: alice, uid 1000)", table.ToString(), StringComparison.Ordinal);
        Assert.Contains("the-cto (os: accesscontrol, uid 998)", table.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("login uid 998", table.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tok-0000000000000000")]
    [InlineData("revoked")]
    public async Task TokenRevoke_OfAnIdNoValidTokenHas_Fails_AndRecordsNothing(string which)
    {
        host.Tokens.CreateToken("carl", OperatorRole.Auditor, "test", "p-alice");
        var id = host.Tokens.List().Single(t => t.Operator == "carl").Id;
        if (which == "revoked")
        {
            host.Tokens.RevokeAll("carl", "test");
        }

        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await AdminCommands.RunAsync(["token", "revoke", "--db", host.DatabasePath, "--id", which == "revoked" ? id : which], host.Clock, output, error, _ => null, Tester);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("no valid token has the id", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(host.Rows(LogKinds.Admin), r => r.Reason == "operator_token.revoke");
    }

    [Fact]
    public async Task TokenRevoke_WithBothOperatorAndId_IsAUsageError()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["token", "revoke", "--db", host.DatabasePath, "--id", "tok-0000000000000000", "--operator", "alice"], host.Clock, output, error, _ => null, Tester);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("not both", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task TokenList_Json_PrintsOneObjectPerToken_WithTheApisFields_NeverTheTokenNorItsHash()
    {
        var tokens = await OperatorTokenListTests.SeedAsync(host);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["token", "list", "--db", host.DatabasePath, "--json"], host.Clock, output, error, _ => null, Tester);

        Assert.Equal(ExitCodes.Ok, code);
        OperatorTokenListTests.AssertNoSecret(output.ToString(), tokens);
        var rows = Lines(output).Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(r => r.GetProperty("operator").GetString()!);
        Assert.Equal(6, rows.Count);
        var erin = rows["erin"];
        Assert.Equal(
            ["id", "operator", "role", "person", "createdAt", "createdBy", "revokedAt", "revokedBy", "state"],
            erin.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("host", "p-erin", "2025-03-03T09:02:00Z", "sec-officer", "revoked"),
            (erin.GetProperty("role").GetString(), erin.GetProperty("person").GetString(), erin.GetProperty("revokedAt").GetString(), erin.GetProperty("revokedBy").GetString(), erin.GetProperty("state").GetString()));
        Assert.Equal("dc1", rows["dora"].GetProperty("site").GetString());
    }

    [Fact]
    public void TokenList_OfAMissingDatabase_FailsWithAMessage_AndMakesNone()
    {
        var path = Path.Combine(Path.GetDirectoryName(host.DatabasePath)!, "elsewhere", "ac.db");
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = TokenCommand.Run(Parse("list", "--db", path), host.Clock, Tester, output, error);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Equal($"error: no database at {path}", error.ToString().Trim());
        Assert.Empty(output.ToString());
        Assert.False(File.Exists(path));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task PersonAndCredentialCommands_ChangeCardholdersThroughTheApi()
    {
        var env = Environment(host.AdminToken);
        var (output, error) = (new StringWriter(), new StringWriter());

        Assert.Equal(0, await Remote("level", ["add", "hall-a", "--name", "Hall A", "--zones", "dc1-hall-a,dc1-campus", "--schedule", "always"], env, output, error));
        Assert.Equal(0, await Remote("person", ["add", "p-7", "--name", "Katherine Johnson", "--kind", "employee", "--levels", "hall-a"], env, output, error));
        Assert.Equal(0, await Remote("credential", ["add", "04:AA:BB", "--person", "p-7", "--technology", "desfire-ev3", "--until", "2026-01-01T00:00:00Z"], env, output, error));
        Assert.Equal(0, await Remote("credential", ["revoke", "04AABB"], env, output, error));
        Assert.Equal(0, await Remote("person", ["status", "p-7", "suspended"], env, output, error));

        var cardholders = host.Configuration.Cardholders;
        Assert.Equal(PersonStatus.Suspended, cardholders.People[new PersonId("p-7")].Status);
        Assert.Equal(CredentialStatus.Revoked, cardholders.Credentials["04AABB"].Status);
        Assert.Equal(2, cardholders.AccessLevels[new AccessLevelId("hall-a")].Zones.Count);
        Assert.Equal(
            ["access_level.upsert", "person.upsert", "credential.upsert", "credential.revoke", "person.suspend"],
            host.Rows(LogKinds.Admin).Select(r => r.Reason));
        Assert.Empty(error.ToString());
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task CredentialActivate_OfARevokedCard_IsRefused_AndCredentialReissue_BindsItAgainWithItsReason()
    {
        var env = Environment(host.AdminToken);
        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await Remote("level", ["add", "hall-a", "--name", "Hall A", "--zones", "dc1-hall-a", "--schedule", "always"], env, output, error));
        Assert.Equal(0, await Remote("person", ["add", "p-7", "--name", "Katherine Johnson", "--kind", "employee", "--levels", "hall-a"], env, output, error));
        Assert.Equal(0, await Remote("credential", ["add", "04AABB", "--person", "p-7", "--technology", "desfire-ev3"], env, output, error));
        Assert.Equal(0, await Remote("credential", ["revoke", "04AABB"], env, output, error));

        Assert.Equal(1, await Remote("credential", ["activate", "04AABB"], env, output, error));
        Assert.Contains("error: 409", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(CredentialStatus.Revoked, host.Configuration.Cardholders.Credentials["04AABB"].Status);

        Assert.Equal(0, await Remote("credential", ["reissue", "04AABB", "--person", "p-7", "--technology", "desfire-ev3", "--reason", "found at the gate"], env, output, error));
        Assert.Equal(CredentialStatus.Active, host.Configuration.Cardholders.Credentials["04AABB"].Status);
        var row = host.Rows(LogKinds.Admin)[^1];
        Assert.Equal("credential.reissue", row.Reason);
        Assert.Contains("found at the gate", row.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemoteCommand_Refused_ExitsOneAndPrintsTheFieldOrStatus()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        Assert.Equal(1, await Remote("person", ["add", "p-7", "--name", "K", "--kind", "astronaut"], Environment(host.AdminToken), output, error));
        Assert.Contains("  kind: ", error.ToString());

        Assert.Equal(1, await Remote("person", ["add", "p-7", "--name", "K", "--kind", "employee"], Environment(host.AuditorToken), output, error));
        Assert.Contains("error: 403", error.ToString());
        Assert.DoesNotContain(new PersonId("p-7"), host.Configuration.Cardholders.People.Keys);

        Assert.Equal(2, await Remote("person", ["add", "p-7", "--name", "K", "--kind", "employee"], _ => null, output, error));
    }

    [Fact]
    public void Args_ParsesOptionsFlagsAndPositionals()
    {
        var (args, problem) = CliArgs.Parse(["create", "--db=/tmp/x.db", "--json", "--role", "admin", "--", "--literal"], ["json"]);

        Assert.Null(problem);
        Assert.Equal(["create", "--literal"], args!.Positionals);
        Assert.Equal(("/tmp/x.db", "true", "admin"), (args.Get("db"), args.Get("json"), args.Get("role")));
        Assert.Equal("--role needs a value", CliArgs.Parse(["--role"]).Error);
        Assert.Equal("--json takes no value", CliArgs.Parse(["--json=yes"], ["json"]).Error);
    }

    [Fact]
    public async Task AdminCommands_RoutesByFirstWord_AndIgnoresOthers()
    {
        await LogQueryTests.SeedAsync(host);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["log", "--db", host.DatabasePath, "--kind", "admin", "--json"], host.Clock, output, error, _ => null, Tester);

        Assert.Equal(0, code);
        Assert.Contains("\"reason\":\"person.upsert\"", Assert.Single(Lines(output)));
        Assert.Null(await AdminCommands.RunAsync(["serve"], host.Clock, output, error, _ => null, Tester));
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_AMisspeltReason_IsAUsageErrorNamingTheValueAndTheKnownCodes_NotAnEmptyTable()
    {
        await LogQueryTests.SeedAsync(host);
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await AdminCommands.RunAsync(["log", "--db", host.DatabasePath, "--reason", "granetd"], host.Clock, output, error, _ => null, Tester);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Empty(output.ToString());
        Assert.StartsWith("error: --reason: 'granetd' is not a reason code (known: ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains(" granted,", error.ToString(), StringComparison.Ordinal);
    }

    private Func<string, string?> Environment(string token) =>
        name => name switch
        {
            RemoteCommands.UrlVariable => host.Client.BaseAddress!.ToString(),
            RemoteCommands.TokenVariable => token,
            _ => null,
        };

    private static Task<int> Remote(string noun, string[] args, Func<string, string?> env, StringWriter output, StringWriter error) =>
        RemoteCommands.RunAsync(noun, Parse(args), output, error, env);

    private static CliArgs Parse(params string[] args) => CliArgs.Parse(args, LogCommand.Flags).Args!;

    private static string[] Lines(StringWriter writer) => writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
