using System.Collections.Immutable;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Tests.Admin;

public sealed class SiteImportTests : IAsyncLifetime
{
    private AdminHost host = null!;

    public async Task InitializeAsync() => host = await AdminHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private static ImmutableArray<AccessLevel> Levels() =>
    [
        new(new AccessLevelId("campus"), "Campus", [new ZoneId("dc1-campus")], ScheduleId.Always),
        new(new AccessLevelId("hall-a"), "Hall A", [new ZoneId("dc1-hall-a"), new ZoneId("dc1-campus")], new ScheduleId("office-hours")),
    ];

    private static ImmutableArray<Person> People(string secondName = "Grace Hopper") =>
    [
        new(new PersonId("p-1"), "Ada Lovelace", PersonKind.Employee, PersonStatus.Active, [new AccessLevelId("hall-a"), new AccessLevelId("campus")]),
        new(new PersonId("p-2"), secondName, PersonKind.Contractor, PersonStatus.Active, [new AccessLevelId("campus")]),
    ];

    private static ImmutableArray<Credential> Credentials() =>
    [
        new("04A1B2C3", "desfire-ev3", new PersonId("p-1"), null, null, CredentialStatus.Active),
        new("0A0B0C0D", "prox-125khz", new PersonId("p-2"), Instant.FromUtc(2025, 3, 1, 0, 0), Instant.FromUtc(2025, 4, 1, 0, 0), CredentialStatus.Active),
    ];

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task Import_SameDefinitionTwice_RecordsNothingTheSecondTime()
    {
        var first = await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), Credentials());
        var rowsAfterFirst = host.Rows(LogKinds.Admin);

        var second = await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), Credentials());

        Assert.Equal(new ImportSummary(2, 2, 2, 0), first.Value);
        Assert.Equal(6, rowsAfterFirst.Count);
        Assert.All(rowsAfterFirst, r => Assert.Equal("site-file:dc1.yaml", r.Actor));
        Assert.Equal(new ImportSummary(0, 0, 0, 6), second.Value);
        Assert.False(second.Changed);
        Assert.Equal(6, host.Rows(LogKinds.Admin).Count);
        Assert.Equal("Grace Hopper", host.Store.LoadAll().People[new PersonId("p-2")].Name);
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task Import_OneChangedPerson_RecordsOneRowWithBeforeAndAfter()
    {
        await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), Credentials());
        host.Clock.Advance(Duration.FromDays(1));

        var result = await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People("Grace B. Hopper"), Credentials());

        Assert.Equal(new ImportSummary(0, 1, 0, 5), result.Value);
        var row = host.Rows(LogKinds.Admin)[^1];
        Assert.Equal(("person.upsert", "p-2", "site-file:dc1.yaml"), (row.Reason, row.PersonId, row.Actor));
        Assert.Equal(AdminHost.Start + Duration.FromDays(1), row.At);
        Assert.Contains("\"before\":{\"id\":\"p-2\",\"name\":\"Grace Hopper\"", row.Detail);
        Assert.Equal("Grace B. Hopper", host.Configuration.Cardholders.People[new PersonId("p-2")].Name);
    }

    [Fact]
    public async Task Import_InvalidReference_AppliesNothingAndNamesTheItem()
    {
        var credentials = Credentials().Add(new Credential("0F0F", "desfire-ev3", new PersonId("p-404"), null, null, CredentialStatus.Active));

        var result = await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), credentials);

        Assert.Equal(AdminOutcome.Invalid, result.Outcome);
        Assert.Equal("credentials[2].person", Assert.Single(result.Errors).Field);
        Assert.Empty(host.PeopleBesidesTheOperators);
        Assert.Empty(host.Rows(LogKinds.Admin));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task Import_LogFailsInTheMiddleOfABatch_PutsNoneOfItInForceAndTheNextImportCompletesIt()
    {
        host.FailAppendNumber = 4; // the two levels' rows and Ada's are durable; Grace's is not

        var failed = await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), Credentials());

        Assert.Equal(AdminOutcome.Unavailable, failed.Outcome);
        Assert.Empty(host.PeopleBesidesTheOperators);
        Assert.Empty(host.Configuration.Cardholders.AccessLevels);
        Assert.Empty(host.Store.LoadAll().AccessLevels);
        Assert.Equal(
            ["access_level.upsert", "access_level.upsert", "person.upsert", "access_level.upsert.failed", "access_level.upsert.failed", "person.upsert.failed"],
            host.Rows(LogKinds.Admin).Select(r => r.Reason));

        var next = await host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), Credentials());

        Assert.Equal(new ImportSummary(2, 2, 2, 0), next.Value);
        var rows = host.Rows(LogKinds.Admin).Skip(6).ToList();
        Assert.Equal(["access_level.upsert", "access_level.upsert", "person.upsert", "person.upsert", "credential.upsert", "credential.upsert"], rows.Select(r => r.Reason));
        Assert.Equal(["p-1", "p-2"], host.PeopleBesidesTheOperators.Select(p => p.Value).Order());
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task Import_WhileABatchsRowsAreWritten_ASwipeSeesAllOfItOrNoneOfIt()
    {
        var third = new TaskCompletionSource<LiveConfiguration.Snapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = 0;
        host.BeforeAppend = async _ =>
        {
            if (Interlocked.Increment(ref seen) == 3)
            {
                third.SetResult(host.Configuration.Current);
                await release.Task;
            }
        };

        var import = host.Admin.ImportSiteDefinitionAsync("dc1.yaml", Levels(), People(), Credentials());
        var during = await third.Task;
        release.SetResult();
        await import;

        // What a swipe is decided with while the rows are being written: the cardholders in force (none of the file's
        // yet), and the batch in flight (all of it), granted only if both grant.
        Assert.Empty(during.Cardholders.AccessLevels);
        Assert.DoesNotContain(during.Cardholders.People.Keys, p => p.Value is "p-1" or "p-2");
        Assert.Empty(during.Cardholders.Credentials);
        Assert.NotNull(during.Pending);
        Assert.Equal(2, during.Pending.AccessLevels.Count);
        Assert.Contains(new PersonId("p-2"), during.Pending.People.Keys);
        Assert.Equal(["04A1B2C3", "0A0B0C0D"], during.Pending.Credentials.Keys.Order());
        Assert.Equal(2, host.Configuration.Cardholders.Credentials.Count);
    }

    [Fact]
    public async Task DatabaseWriteFails_AfterTheAuditRow_RecordsTheFailureAndChangesNothing()
    {
        using (var connection = host.Database.Open())
        {
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TRIGGER refuse_people BEFORE INSERT ON people BEGIN SELECT RAISE(ABORT, 'test: disk full'); END";
            command.ExecuteNonQuery();
        }

        var result = await host.Admin.UpsertPersonAsync(AdminActor.EverySite("alice"), "p-1", new PersonInput("Ada", "employee"));

        Assert.Equal(AdminOutcome.Unavailable, result.Outcome);
        Assert.Empty(host.PeopleBesidesTheOperators);
        Assert.Equal(["person.upsert", "person.upsert.failed"], host.Rows(LogKinds.Admin).Select(r => r.Reason));
    }
}
