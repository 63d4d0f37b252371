using System.Text;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.Sites;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using NodaTime;

namespace AccessControl.Tests.Fingerprints;

/// <summary>Enrollment, revocation, rekey and the live view the pipeline reads, on a real SQLite file.</summary>
public class FingerprintServiceTests
{
    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Enroll_AppendsTheAdminRowBeforeStoring_AndTheRowNamesWhoWhenWhereButHasNoTemplate()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var template = FingerprintDesk.NewTemplate();
        int? rowsWhenAudited = null;
        desk.BeforeAppend = _ =>
        {
            using var connection = desk.Database.Open();
            rowsWhenAudited = connection.ExecuteScalar<int>("SELECT COUNT(*) FROM fingerprint_templates");
        };

        var result = await desk.EnrollAsync(FingerprintDesk.Alice, "right-index", template);

        Assert.True(result.IsOk, result.Message);
        Assert.Equal(0, rowsWhenAudited);
        var row = Assert.Single(desk.Rows(LogKinds.Admin));
        Assert.Equal(FingerprintActions.Enroll, row.Reason);
        Assert.Equal("erik", row.Actor);
        Assert.Equal(FingerprintDesk.Alice.Value, row.PersonId);
        Assert.Equal(FingerprintDesk.Start, row.At);
        Assert.Contains(result.Value!.TemplateId, row.Detail, StringComparison.Ordinal);
        Assert.Contains("\"station\":\"enroll-station-1\"", row.Detail, StringComparison.Ordinal);
        Assert.Contains("\"finger\":\"right-index\"", row.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(template), row.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(template[..8]), row.Detail!.ToUpperInvariant(), StringComparison.Ordinal);
        var stored = Assert.Single(desk.Store.List(FingerprintDesk.Alice));
        Assert.Equal(("erik", "enroll-station-1", FingerprintDesk.Start), (stored.EnrolledBy, stored.Station, stored.EnrolledAt));
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Enroll_IsLiveAtOnce_TheEnrolledSetAndTheDecryptedTemplates()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var first = FingerprintDesk.NewTemplate();
        var second = FingerprintDesk.NewTemplate();

        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index", first);
        await desk.EnrollAsync(FingerprintDesk.Alice, "left-index", second);

        Assert.Contains(FingerprintDesk.Alice, desk.Configuration.Cardholders.FingerprintEnrolled);
        Assert.DoesNotContain(FingerprintDesk.Bob, desk.Configuration.Cardholders.FingerprintEnrolled);
        var templates = desk.Templates.ActiveTemplates(FingerprintDesk.Alice);
        Assert.Equal(["right-index", "left-index"], templates.Select(t => t.Finger));
        Assert.Equal(first, templates[0].Data.ToArray());
        Assert.Equal(second, templates[1].Data.ToArray());
        Assert.Empty(desk.Templates.ActiveTemplates(FingerprintDesk.Bob));
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Load_AfterARestart_RestoresTheEnrolledSetAndTemplatesFromTheDatabase()
    {
        var keyring = FingerprintKeyring.NewRandom();
        await using var desk = await FingerprintDesk.OpenAsync(keyring);
        var template = FingerprintDesk.NewTemplate();
        await desk.EnrollAsync(FingerprintDesk.Bob, "right-thumb", template);

        var restarted = new FingerprintTemplates(new FingerprintStore(desk.Database), keyring, NullLogger<FingerprintTemplates>.Instance);
        var enrolled = restarted.Load();

        Assert.Equal([FingerprintDesk.Bob], enrolled);
        Assert.Equal(template, Assert.Single(restarted.ActiveTemplates(FingerprintDesk.Bob)).Data.ToArray());
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Enroll_RefusesWhatItMustNot_AndChangesNothing()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var e = FingerprintDesk.Enroller;
        byte[] ok = [1, 2, 3];

        var badFields = await desk.Service.EnrollAsync(e, "p-alice", "right-toe", "bad station!", "ISO", new byte[FingerprintTemplate.MaxBytes + 1]);
        var empty = await desk.Service.EnrollAsync(e, "p-alice", "right-index", "st-1", "ac-sim-v1", ReadOnlyMemory<byte>.Empty);
        var unknown = await desk.Service.EnrollAsync(e, "p-nobody", "right-index", "st-1", "ac-sim-v1", ok);
        desk.Configuration.UpdateCardholders(c => c.With(c.People[FingerprintDesk.Bob] with { Status = PersonStatus.Terminated }));
        var terminated = await desk.Service.EnrollAsync(e, "p-bob", "right-index", "st-1", "ac-sim-v1", ok);

        Assert.Equal(FingerprintOutcome.Invalid, badFields.Outcome);
        Assert.Equal(["finger", "station", "format", "template"], badFields.Errors.Select(x => x.Field));
        Assert.Equal("template", Assert.Single(empty.Errors).Field);
        Assert.Equal(FingerprintOutcome.NotFound, unknown.Outcome);
        Assert.Equal((FingerprintOutcome.Refused, FingerprintRefusals.PersonTerminated), (terminated.Outcome, terminated.Code));
        Assert.Empty(desk.Rows(LogKinds.Admin));
        Assert.Empty(desk.Configuration.Cardholders.FingerprintEnrolled);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Enroll_AnEnrolledFinger_IsAConflict_UnlessReplaced_AndReplacingRevokesTheOldTemplate()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var old = (await desk.EnrollAsync(FingerprintDesk.Alice, "right-index")).Value!;
        var replacement = FingerprintDesk.NewTemplate();

        var again = await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");
        var replaced = await desk.EnrollAsync(FingerprintDesk.Alice, "right-index", replacement, replace: true);

        Assert.Equal((FingerprintOutcome.Conflict, FingerprintRefusals.FingerEnrolled), (again.Outcome, again.Code));
        Assert.True(replaced.IsOk);
        var records = desk.Store.List(FingerprintDesk.Alice);
        Assert.Equal(2, records.Count);
        var revoked = records.Single(r => r.TemplateId == old.TemplateId);
        Assert.False(revoked.Active);
        Assert.Equal("replaced by " + replaced.Value!.TemplateId, revoked.RevokeReason);
        Assert.Equal(replacement, Assert.Single(desk.Templates.ActiveTemplates(FingerprintDesk.Alice)).Data.ToArray());
        Assert.Contains(old.TemplateId, desk.Rows(LogKinds.Admin)[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Enroll_BeyondTheMostTemplatesPerPerson_IsRefused()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        foreach (var finger in Fingers.All.Take(FingerprintDesk.Options.MaxTemplatesPerPerson))
        {
            Assert.True((await desk.EnrollAsync(FingerprintDesk.Alice, finger)).IsOk);
        }

        var oneMore = await desk.EnrollAsync(FingerprintDesk.Alice, Fingers.All[^1]);

        Assert.Equal((FingerprintOutcome.Refused, FingerprintRefusals.TooManyTemplates), (oneMore.Outcome, oneMore.Code));
        Assert.Equal(4, desk.Templates.ActiveTemplates(FingerprintDesk.Alice).Count);
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    public async Task Enroll_OneselfIsForbidden_AndRecordedAsASecurityRow()
    {
        await using var desk = await FingerprintDesk.OpenAsync();

        var result = await desk.EnrollAsync(FingerprintDesk.Erik, "right-index");

        Assert.Equal((FingerprintOutcome.Forbidden, FingerprintRefusals.SelfEnrollment), (result.Outcome, result.Code));
        Assert.Empty(desk.Store.List(FingerprintDesk.Erik));
        var row = Assert.Single(desk.Rows(LogKinds.Security));
        Assert.Equal(("fingerprint.self_enrollment", "erik", "p-erik"), (row.Reason, row.Actor, row.PersonId));
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task Revoke_ErasesTheCiphertext_KeepsTheRecord_AndIsLiveAtOnce()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var enrolled = (await desk.EnrollAsync(FingerprintDesk.Alice, "right-index")).Value!;
        desk.Clock.AdvanceMinutes(5);

        var result = await desk.Service.RevokeAsync("erik", enrolled.TemplateId, "finger injured");
        var again = await desk.Service.RevokeAsync("erik", enrolled.TemplateId, "finger injured");

        Assert.True(result.IsOk);
        Assert.False(again.Changed);
        Assert.Empty(desk.Templates.ActiveTemplates(FingerprintDesk.Alice));
        Assert.DoesNotContain(FingerprintDesk.Alice, desk.Configuration.Cardholders.FingerprintEnrolled);
        using var connection = desk.Database.Open();
        var row = connection.QuerySingle<(byte[]? Nonce, byte[]? Ciphertext, long RevokedAt, string RevokedBy, string Reason, string EnrolledBy, string Station)>(
            "SELECT nonce, ciphertext, revoked_at, revoked_by, revoke_reason, enrolled_by, station FROM fingerprint_templates WHERE template_id = @id",
            new { id = enrolled.TemplateId });
        Assert.Null(row.Nonce);
        Assert.Null(row.Ciphertext);
        Assert.Equal((FingerprintDesk.Start + Duration.FromMinutes(5)).ToUnixTimeMilliseconds(), row.RevokedAt);
        Assert.Equal(("erik", "finger injured", "erik", "enroll-station-1"), (row.RevokedBy, row.Reason, row.EnrolledBy, row.Station));
        var audit = desk.Rows(LogKinds.Admin)[^1];
        Assert.Equal((FingerprintActions.Revoke, "p-alice"), (audit.Reason, audit.PersonId));
        Assert.Single(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Revoke);
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task RevokeAll_RevokesEveryActiveTemplateOfThePerson_InOneAuditedChange()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");
        await desk.EnrollAsync(FingerprintDesk.Alice, "left-index");
        await desk.EnrollAsync(FingerprintDesk.Bob, "left-index");

        var result = await desk.Service.RevokeAllAsync("hr:termination", FingerprintDesk.Alice, "left the company");
        var none = await desk.Service.RevokeAllAsync("hr:termination", FingerprintDesk.Alice, "left the company");

        Assert.Equal(2, result.Value!.Count);
        Assert.False(none.Changed);
        Assert.All(desk.Store.List(FingerprintDesk.Alice), r => Assert.False(r.Active));
        Assert.Equal([FingerprintDesk.Bob], desk.Configuration.Cardholders.FingerprintEnrolled);
        Assert.Single(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Revoke);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Enroll_WhenTheAuditLogIsUnavailable_ChangesNothing()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        desk.FailAppends = true;

        var result = await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");

        Assert.Equal(FingerprintOutcome.Unavailable, result.Outcome);
        Assert.Empty(desk.Store.List(FingerprintDesk.Alice));
        Assert.Empty(desk.Configuration.Cardholders.FingerprintEnrolled);
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task ActiveTemplates_OfATamperedRow_OrACiphertextMovedToAnotherPerson_AreEmpty_FailClosed()
    {
        var keyring = FingerprintKeyring.NewRandom();
        await using var desk = await FingerprintDesk.OpenAsync(keyring);
        var alice = (await desk.EnrollAsync(FingerprintDesk.Alice, "right-index")).Value!;
        var bob = (await desk.EnrollAsync(FingerprintDesk.Bob, "right-index")).Value!;
        await desk.EnrollAsync(FingerprintDesk.Dave, "right-index");
        using (var connection = desk.Database.Open())
        {
            // Bob's row gets Alice's ciphertext (an insider trying to pass as Bob with Alice's finger).
            connection.Execute(
                "UPDATE fingerprint_templates SET nonce = (SELECT nonce FROM fingerprint_templates WHERE template_id = @a), ciphertext = (SELECT ciphertext FROM fingerprint_templates WHERE template_id = @a) WHERE template_id = @b",
                new { a = alice.TemplateId, b = bob.TemplateId });
            connection.Execute("UPDATE fingerprint_templates SET ciphertext = zeroblob(316) WHERE person_id = 'p-dave'");
        }

        var reloaded = new FingerprintTemplates(new FingerprintStore(desk.Database), keyring, NullLogger<FingerprintTemplates>.Instance);
        reloaded.Load();

        Assert.Single(reloaded.ActiveTemplates(FingerprintDesk.Alice));
        Assert.Empty(reloaded.ActiveTemplates(FingerprintDesk.Bob));
        Assert.Empty(reloaded.ActiveTemplates(FingerprintDesk.Dave));
        var wrongKey = new FingerprintTemplates(new FingerprintStore(desk.Database), FingerprintKeyring.NewRandom(), NullLogger<FingerprintTemplates>.Instance);
        wrongKey.Load();
        Assert.Empty(wrongKey.ActiveTemplates(FingerprintDesk.Alice));
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task Rekey_AfterAddingAKey_ReencryptsEveryTemplateUnderIt_SoTheOldKeyCanBeRemoved()
    {
        var k1 = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var k2 = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using var desk = await FingerprintDesk.OpenAsync(FingerprintKeyring.Parse($"k1 {k1}", "keys"));
        var alice = FingerprintDesk.NewTemplate();
        var bob = FingerprintDesk.NewTemplate();
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index", alice);
        var revoked = (await desk.EnrollAsync(FingerprintDesk.Bob, "left-index")).Value!;
        await desk.Service.RevokeAsync("erik", revoked.TemplateId, "test");
        await desk.EnrollAsync(FingerprintDesk.Bob, "right-index", bob);
        desk.KeyringSource = () => FingerprintKeyring.Parse($"k1 {k1}\nk2 {k2}", "keys");

        var result = await desk.Service.RekeyAsync(AdminActor.EverySite("admin-1"));
        var second = await desk.Service.RekeyAsync(AdminActor.EverySite("admin-1"));

        Assert.True(result.IsOk, result.Message);
        Assert.Equal(("k2", 2, 2), (result.Value!.KeyId, result.Value.Rekeyed, result.Value.Active));
        Assert.Equal(["k1"], result.Value.PreviousKeys);
        Assert.Equal(0, second.Value!.Rekeyed);
        Assert.False(second.Changed);
        Assert.All(desk.Store.ListActive(), r => Assert.Equal("k2", r.KeyId));
        Assert.Equal(alice, desk.Templates.ActiveTemplates(FingerprintDesk.Alice)[0].Data.ToArray());
        var onlyNew = new FingerprintTemplates(new FingerprintStore(desk.Database), FingerprintKeyring.Parse($"k2 {k2}", "keys"), NullLogger<FingerprintTemplates>.Instance);
        onlyNew.Load();
        Assert.Equal(bob, onlyNew.ActiveTemplates(FingerprintDesk.Bob)[0].Data.ToArray());
        var onlyOld = new FingerprintTemplates(new FingerprintStore(desk.Database), FingerprintKeyring.Parse($"k1 {k1}", "keys"), NullLogger<FingerprintTemplates>.Instance);
        onlyOld.Load();
        Assert.Empty(onlyOld.ActiveTemplates(FingerprintDesk.Bob));
        var audit = Assert.Single(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Rekey);
        Assert.Equal("admin-1", audit.Actor);
    }

    [Fact]
    [Trait("control", "NIST-AU-12")]
    [Trait("control", "NIST-SC-12")]
    public async Task Rekey_ThatOnlyRetiresTheOldKey_IsRecordedWithWhoAndWhen()
    {
        var (before, after) = FingerprintDesk.KeyRotation();
        await using var desk = await FingerprintDesk.OpenAsync(before);
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");
        desk.KeyringSource = () => after;
        Assert.True((await desk.Service.RekeyAsync(AdminActor.EverySite("admin-1"))).IsOk);
        desk.KeyringSource = () => new FingerprintKeyring([after.Current]); // rotation step 3: the old line removed from the key file
        desk.Clock.Advance(Duration.FromMinutes(5));

        var retired = await desk.Service.RekeyAsync(AdminActor.EverySite("admin-2"));

        Assert.Equal((true, 0), (retired.IsOk, retired.Value!.Rekeyed));
        Assert.False(desk.Templates.Keyring.Contains("k1"));
        var row = Assert.Single(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Rekey && r.Actor == "admin-2");
        Assert.Equal(desk.Clock.GetCurrentInstant(), row.At);
        Assert.Contains("\"retiredKeys\":[\"k1\"]", row.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task Rekey_ThroughTheServiceItself_ByASiteLimitedIdentity_IsRefused_AndChangesNothing()
    {
        var (before, after) = FingerprintDesk.KeyRotation();
        await using var desk = await FingerprintDesk.OpenAsync(before);
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index");
        desk.KeyringSource = () => after;
        var limited = new OperatorIdentity("root-dc1", OperatorRole.Admin, FingerprintDesk.Frida.Value, "dc1");

        var result = await desk.Service.RekeyAsync(AdminActor.Of(limited));

        Assert.Equal((FingerprintOutcome.Forbidden, SiteLimit.Code), (result.Outcome, result.Code));
        Assert.Equal("k1", Assert.Single(desk.Store.ListActive()).KeyId);
        Assert.DoesNotContain(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Rekey);
        var refused = Assert.Single(desk.Rows(LogKinds.Security), r => r.Reason == "fingerprint.rekey.refused");
        Assert.Equal(("root-dc1", null), (refused.Actor, refused.SiteId));
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task Rekey_WhenTheOldKeyWasRemovedTooEarly_IsRefused_AndChangesNothing()
    {
        await using var desk = await FingerprintDesk.OpenAsync(FingerprintKeyring.NewRandom("k1"));
        var template = FingerprintDesk.NewTemplate();
        await desk.EnrollAsync(FingerprintDesk.Alice, "right-index", template);
        desk.KeyringSource = () => FingerprintKeyring.NewRandom("k2");

        var result = await desk.Service.RekeyAsync(AdminActor.EverySite("admin-1"));

        Assert.Equal((FingerprintOutcome.Conflict, FingerprintRefusals.KeyMissing), (result.Outcome, result.Code));
        Assert.Equal("k1", Assert.Single(desk.Store.ListActive()).KeyId);
        Assert.Equal(template, desk.Templates.ActiveTemplates(FingerprintDesk.Alice)[0].Data.ToArray());
        Assert.DoesNotContain(desk.Rows(LogKinds.Admin), r => r.Reason == FingerprintActions.Rekey);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Matched_IsWrittenInTheBackground_AsTheLastMatchedTime()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var enrolled = (await desk.EnrollAsync(FingerprintDesk.Alice, "right-index")).Value!;
        var written = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        desk.Templates.MatchesWritten += n => written.TrySetResult(n);
        using var stop = new CancellationTokenSource();
        var loop = desk.Templates.RunAsync(stop.Token);
        var at = FingerprintDesk.Start + Duration.FromHours(2);

        desk.Templates.Matched(enrolled.TemplateId, at);
        await written.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await stop.CancelAsync();
        await loop;

        Assert.Equal(at, desk.Store.Find(enrolled.TemplateId)!.LastMatchedAt);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task Reconcile_ListsOrphans_PeopleWithoutTemplatesForTwoFactorZones_AndUnusedTemplates()
    {
        await using var desk = await FingerprintDesk.OpenAsync();
        var alice = (await desk.EnrollAsync(FingerprintDesk.Alice, "right-index")).Value!;
        var dave = (await desk.EnrollAsync(FingerprintDesk.Dave, "right-index")).Value!;      // no card at all
        var frida = (await desk.EnrollAsync(FingerprintDesk.Frida, "right-index")).Value!;    // will leave
        desk.Configuration.UpdateCardholders(c => c.With(c.People[FingerprintDesk.Frida] with { Status = PersonStatus.Terminated }));
        using (var connection = desk.Database.Open())
        {
            connection.Execute("INSERT INTO fingerprint_templates (template_id, person_id, finger, format, key_id, nonce, ciphertext, enrolled_at, enrolled_by, station) " +
                "VALUES ('fpt-ghost', 'p-ghost', 'left-thumb', 'ac-sim-v1', 'k1', x'00', x'00', @at, 'someone', 'st-9')", new { at = FingerprintDesk.Start.ToUnixTimeMilliseconds() });
        }

        desk.Clock.AdvanceMinutes(60);
        var matchedRecently = desk.Clock.GetCurrentInstant();
        desk.Store.RecordMatches([(alice.TemplateId, matchedRecently)]);
        desk.Clock.Advance(Duration.FromDays(90));
        var report = desk.Service.Reconcile();

        Assert.Equal(
            [(dave.TemplateId, OrphanTemplate.NoActiveCredential), (frida.TemplateId, OrphanTemplate.PersonTerminated), ("fpt-ghost", OrphanTemplate.PersonUnknown)],
            report.Orphans.Select(o => (o.Template.TemplateId, o.Reason)).OrderBy(o => o.Item2, StringComparer.Ordinal));
        var bob = Assert.Single(report.NotEnrolled);
        Assert.Equal("p-bob", bob.PersonId);
        Assert.Equal(["dc1-server-room"], bob.TwoFactorZones);
        Assert.Equal(desk.Clock.GetCurrentInstant() - Duration.FromDays(90), report.UnusedSince);
        Assert.Equal(
            new[] { dave.TemplateId, frida.TemplateId, "fpt-ghost" }.Order(StringComparer.Ordinal),
            report.Unused.Select(u => u.Template.TemplateId).Order(StringComparer.Ordinal));
        Assert.All(report.Unused, u => Assert.True(u.NeverMatched));
        Assert.DoesNotContain(report.Unused, u => u.Template.TemplateId == alice.TemplateId);
    }
}
