using System.Collections.Immutable;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Tests.Admin;

/// <summary>
/// An import (and every admin change) records nothing for a record that reads the same before and after; these pin
/// that a change in any one field is still seen, and that the comparison agrees with comparing the rows' JSON.
/// </summary>
public sealed class ViewEqualityTests : IAsyncLifetime
{
    private AdminHost host = null!;

    public async Task InitializeAsync() => host = await AdminHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private sealed record Definition(ImmutableArray<AccessLevel> Levels, ImmutableArray<Person> People, ImmutableArray<Credential> Credentials);

    private static readonly AccessLevelId Campus = new("campus");
    private static readonly AccessLevelId HallA = new("hall-a");
    private static readonly PersonId Ada = new("p-1");
    private static readonly PersonId Grace = new("p-2");

    private static Definition Baseline() => new(
        [
            new(Campus, "Campus", [new ZoneId("dc1-campus")], ScheduleId.Always),
            new(HallA, "Hall A", [new ZoneId("dc1-hall-a"), new ZoneId("dc1-campus")], new ScheduleId("office-hours")),
        ],
        [
            new(Ada, "Ada Lovelace", PersonKind.Employee, PersonStatus.Active, [Campus]),
            new(Grace, "Grace Hopper", PersonKind.Contractor, PersonStatus.Active, [Campus]),
        ],
        [
            new("04A1B2C3", "desfire-ev3", Ada, Instant.FromUtc(2025, 3, 1, 0, 0), Instant.FromUtc(2025, 4, 1, 0, 0), CredentialStatus.Active),
        ]);

    private static Definition WithLevel(Definition d, Func<AccessLevel, AccessLevel> change) =>
        d with { Levels = [.. d.Levels.Select(l => l.Id == Campus ? change(l) : l)] };

    private static Definition WithAda(Definition d, Func<Person, Person> change) =>
        d with { People = [.. d.People.Select(p => p.Id == Ada ? change(p) : p)] };

    private static Definition WithCard(Definition d, Func<Credential, Credential> change) =>
        d with { Credentials = [.. d.Credentials.Select(change)] };

    /// <summary>Every field an audit row's before/after shows, each changed alone: the row it must give, and whose.</summary>
    private static readonly Dictionary<string, (Func<Definition, Definition> Change, string Reason)> Changes = new()
    {
        ["level name"] = (d => WithLevel(d, l => l with { Name = "Campus grounds" }), "access_level.upsert"),
        ["level zones"] = (d => WithLevel(d, l => l with { Zones = [new ZoneId("dc1-campus"), new ZoneId("dc1-hall-a")] }), "access_level.upsert"),
        ["level schedule"] = (d => WithLevel(d, l => l with { Schedule = new ScheduleId("office-hours") }), "access_level.upsert"),
        ["level escort"] = (d => WithLevel(d, l => l with { Escort = true }), "access_level.upsert"),
        ["level escortedOnly"] = (d => WithLevel(d, l => l with { EscortedOnly = true }), "access_level.upsert"),
        ["person name"] = (d => WithAda(d, p => p with { Name = "Ada King" }), "person.upsert"),
        ["person kind"] = (d => WithAda(d, p => p with { Kind = PersonKind.Contractor }), "person.upsert"),
        ["person status"] = (d => WithAda(d, p => p with { Status = PersonStatus.Suspended }), "person.upsert"),
        ["person access levels"] = (d => WithAda(d, p => p with { AccessLevels = [Campus, HallA] }), "person.upsert"),
        ["credential technology"] = (d => WithCard(d, c => c with { Technology = "mifare-classic" }), "credential.upsert"),
        ["credential person"] = (d => WithCard(d, c => c with { Person = Grace }), "credential.upsert"),
        ["credential validFrom"] = (d => WithCard(d, c => c with { ValidFrom = c.ValidFrom!.Value + Duration.FromNanoseconds(1) }), "credential.upsert"),
        ["credential validFrom lifted"] = (d => WithCard(d, c => c with { ValidFrom = null }), "credential.upsert"),
        ["credential validUntil"] = (d => WithCard(d, c => c with { ValidUntil = c.ValidUntil!.Value - Duration.FromNanoseconds(1) }), "credential.upsert"),
        ["credential validUntil lifted"] = (d => WithCard(d, c => c with { ValidUntil = null }), "credential.upsert"),
        ["credential status"] = (d => WithCard(d, c => c with { Status = CredentialStatus.Suspended }), "credential.upsert"),
    };

    public static TheoryData<string> Fields() => [.. Changes.Keys];

    [Theory]
    [MemberData(nameof(Fields))]
    [Trait("control", "NIST-AC-2")]
    public async Task Import_OneFieldChanged_IsWrittenAndAuditedWithItsBeforeAndAfter(string field)
    {
        var baseline = Baseline();
        await Import(baseline);
        var rowsBefore = host.Rows(LogKinds.Admin).Count;
        var (change, reason) = Changes[field];

        var result = await Import(change(baseline));

        Assert.Equal(1, result.Value!.Changed);
        Assert.Equal(4, result.Value.Unchanged);
        var row = Assert.Single(host.Rows(LogKinds.Admin).Skip(rowsBefore));
        Assert.Equal((reason, "site-file:dc1.yaml"), (row.Reason, row.Actor));
        Assert.NotNull(row.Detail);
        Assert.Contains("\"before\":{", row.Detail);
    }

    [Fact]
    public async Task Import_NoFieldChanged_RecordsNothing()
    {
        await Import(Baseline());
        var rowsBefore = host.Rows(LogKinds.Admin).Count;

        var result = await Import(Baseline());

        Assert.Equal(new ImportSummary(0, 0, 0, 5), result.Value);
        Assert.Equal(rowsBefore, host.Rows(LogKinds.Admin).Count);
    }

    private Task<AdminResult<ImportSummary>> Import(Definition d) =>
        host.Admin.ImportSiteDefinitionAsync("dc1.yaml", d.Levels, d.People, d.Credentials);

    // ---- against the JSON comparison it replaces ------------------------------------------------------

    private static readonly string[] Texts = ["", "a", "A", "a ", "é", "e\u0301", "\"", "\\", "<", "\u00a0", "日本", "😀", "null"];

    private static readonly Instant?[] Instants =
    [
        null, Instant.FromUtc(2025, 3, 1, 0, 0), Instant.FromUtc(2025, 3, 1, 0, 0) + Duration.FromNanoseconds(1),
        Instant.FromUtc(2025, 3, 1, 0, 0) + Duration.FromMilliseconds(1), Instant.FromUnixTimeTicks(0),
    ];

    private static string Text(Random r) => Texts[r.Next(Texts.Length)];

    private static IReadOnlyList<string> TextList(Random r) => [.. Enumerable.Range(0, r.Next(4)).Select(_ => Text(r))];

    private static CredentialView Credential(Random r) =>
        new(Text(r), Text(r), Text(r), Instants[r.Next(Instants.Length)], Instants[r.Next(Instants.Length)], Text(r));

    private static PersonView Person(Random r) =>
        new(Text(r), Text(r), Text(r), Text(r), TextList(r), r.Next(3) switch
        {
            0 => null,
            1 => [],
            _ => [.. Enumerable.Range(0, 1 + r.Next(2)).Select(_ => Credential(r))],
        });

    private static AccessLevelView Level(Random r) =>
        new(Text(r), Text(r), TextList(r), Text(r), r.Next(2) == 0, r.Next(2) == 0);

    // One member replaced by the other view's (which may happen to be equal), or none; lists always fresh copies, so
    // that equal contents are never the same reference.
    private static PersonView Vary(Random r, PersonView v, PersonView o) => r.Next(7) switch
    {
        0 => v with { Id = o.Id },
        1 => v with { Name = o.Name },
        2 => v with { Kind = o.Kind },
        3 => v with { Status = o.Status },
        4 => v with { AccessLevels = [.. o.AccessLevels] },
        5 => v with { Credentials = o.Credentials is null ? null : [.. o.Credentials] },
        _ => v with { AccessLevels = [.. v.AccessLevels], Credentials = v.Credentials is null ? null : [.. v.Credentials.Select(c => c with { })] },
    };

    private static CredentialView Vary(Random r, CredentialView v, CredentialView o) => r.Next(7) switch
    {
        0 => v with { Card = o.Card },
        1 => v with { Technology = o.Technology },
        2 => v with { PersonId = o.PersonId },
        3 => v with { ValidFrom = o.ValidFrom },
        4 => v with { ValidUntil = o.ValidUntil },
        5 => v with { Status = o.Status },
        _ => v with { },
    };

    private static AccessLevelView Vary(Random r, AccessLevelView v, AccessLevelView o) => r.Next(7) switch
    {
        0 => v with { Id = o.Id },
        1 => v with { Name = o.Name },
        2 => v with { Zones = [.. o.Zones] },
        3 => v with { Schedule = o.Schedule },
        4 => v with { Escort = o.Escort },
        5 => v with { EscortedOnly = o.EscortedOnly },
        _ => v with { Zones = [.. v.Zones] },
    };

    /// <summary>
    /// The members the comparer and the variations above cover, view by view. A member added to a view fails this until
    /// it is compared in <see cref="ViewEquality"/> and varied here: else an import could call a change of it "unchanged".
    /// </summary>
    [Theory]
    [InlineData(typeof(PersonView), "AccessLevels,Credentials,Id,Kind,Name,Status")]
    [InlineData(typeof(CredentialView), "Card,PersonId,Status,Technology,ValidFrom,ValidUntil")]
    [InlineData(typeof(AccessLevelView), "Escort,EscortedOnly,Id,Name,Schedule,Zones")]
    public void View_HasOnlyTheMembersTheComparerCompares(Type view, string members)
    {
        var actual = view.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Select(p => p.Name).Order(StringComparer.Ordinal);

        Assert.Equal(members, string.Join(',', actual));
    }

    private static bool SameJson<T>(T? before, T after) =>
        before is not null && AdminJson.Serialize(before) == AdminJson.Serialize(after);

    [Fact]
    public void Same_GeneratedVariations_AgreesWithComparingTheirJson()
    {
        var r = new Random(20261130);
        var (agreedEqual, agreedDifferent) = (0, 0);
        for (var i = 0; i < 3000; i++)
        {
            var person = Person(r);
            var variedPerson = Vary(r, person, Person(r));
            var credential = Credential(r);
            var variedCredential = Vary(r, credential, Credential(r));
            var level = Level(r);
            var variedLevel = Vary(r, level, Level(r));

            Assert.Equal(SameJson(person, variedPerson), ViewEquality.Same(person, variedPerson));
            Assert.Equal(SameJson(credential, variedCredential), ViewEquality.Same(credential, variedCredential));
            Assert.Equal(SameJson(level, variedLevel), ViewEquality.Same(level, variedLevel));
            Assert.False(ViewEquality.Same(null, variedPerson));
            agreedEqual += ViewEquality.Same(person, variedPerson) ? 1 : 0;
            agreedDifferent += ViewEquality.Same(person, variedPerson) ? 0 : 1;
        }

        // Both answers were exercised, so agreeing was not trivial.
        Assert.InRange(agreedEqual, 500, 3000);
        Assert.InRange(agreedDifferent, 500, 3000);
    }
}
