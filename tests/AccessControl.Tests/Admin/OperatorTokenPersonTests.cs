using AccessControl.Admin;
using AccessControl.Devices;
using AccessControl.Hosting;
using AccessControl.People;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using Dapper;
using Microsoft.Extensions.Logging;
using NodaTime.Testing;

namespace AccessControl.Tests.Admin;

/// <summary>
/// "A person who leaves loses access at once": the HR feed's termination revokes the operator tokens that name the
/// person, so every token must name one, whatever its role. Tokens stored without one by an older version are refused
/// (OperatorTokenRefusalTests) and named at every start, until they are revoked and issued again with a person.
/// </summary>
public sealed class OperatorTokenPersonTests : IDisposable
{
    /// <summary>The newest migration of the versions that stored tokens without a person (admin, auditor, frontdesk, security).</summary>
    private const int LastVersionWithoutThePersonRule = 17;

    private readonly DataFolder folder = new();
    private readonly FakeClock clock = new(EdgeHarness.BusinessHours);

    public void Dispose() => folder.Dispose();

    public static TheoryData<OperatorRole> Roles => [.. Enum.GetValues<OperatorRole>()];

    [Theory]
    [MemberData(nameof(Roles))]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AC-2")]
    public void CreateToken_WithoutAPerson_IsRefused_WhateverTheRole(OperatorRole role)
    {
        var tokens = new ApiTokens(MigratedDatabase(), clock);

        var refused = Assert.Throws<ArgumentException>(() => tokens.CreateToken("frank", role, "test", personId: null!));

        Assert.Contains("must name the person it belongs to", refused.Message, StringComparison.Ordinal);
        using var connection = MigratedDatabase().Open();
        Assert.Equal(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM operator_tokens"));
    }

    [Theory]
    [InlineData("p-mkcoh", "there is no person 'p-mkcoh'")]      // a typo of p-mkoch: her termination would never find the token
    [InlineData("p-tfischer", "person 'p-tfischer' is terminated")]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AC-2")]
    public void CreateToken_ForAnUnknownOrTerminatedPerson_IsRefusedNamingTheId_AndCreatesNothing(string person, string why)
    {
        var database = MigratedDatabase();
        TestPeople.Add(database, "p-mkoch");
        TestPeople.Add(database, PersonStatus.Terminated, "p-tfischer");
        var tokens = new ApiTokens(database, clock);

        var refused = Assert.Throws<ArgumentException>(() => tokens.CreateToken("frank", OperatorRole.Admin, "test", person));

        Assert.Contains(why, refused.Message, StringComparison.Ordinal);
        using var connection = database.Open();
        Assert.Equal(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM operator_tokens"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public void CreateToken_ForAKnownActivePerson_GivesATokenThatNamesThem()
    {
        var database = MigratedDatabase();
        TestPeople.Add(database, "p-mkoch");
        var tokens = new ApiTokens(database, clock);

        var token = tokens.CreateToken("mkoch", OperatorRole.Admin, "test", "p-mkoch");

        Assert.Equal(new OperatorIdentity("mkoch", OperatorRole.Admin, "p-mkoch"), tokens.Authenticate(token));
    }

    [Theory]
    [MemberData(nameof(Roles))]
    [Trait("control", "NIST-PS-4")]
    public void TokenTable_RefusesARowWithoutAPerson_WhateverTheRole(OperatorRole role)
    {
        using var connection = MigratedDatabase().Open();

        Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => connection.Execute(
            "INSERT INTO operator_tokens (token_hash, operator, role, created_at, created_by) VALUES ('x', 'frank', @role, 0, 'test')",
            new { role = ApiTokens.RoleCode(role) }));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AC-2")]
    public async Task Start_WithValidTokensThatNameNoPerson_WarnsThatTheyAreRefused_NamingTheirOperatorsAndRoles_NeverTheTokens()
    {
        StoreAsAnOlderVersion();

        var logs = new CapturingLoggerProvider();
        using (var loggers = LoggerFactory.Create(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)))
        {
            await EdgeService.Create(Settings(), clock, RealTime.Instance, loggers).DisposeAsync();
        }

        var warning = Assert.Single(logs.Lines, l => l.StartsWith("Warning ", StringComparison.Ordinal) && l.Contains("name no person", StringComparison.Ordinal));
        Assert.Contains("alice (admin), bob (auditor)", warning, StringComparison.Ordinal);
        Assert.Contains("are refused", warning, StringComparison.Ordinal);
        Assert.Contains("token revoke", warning, StringComparison.Ordinal);
        Assert.Contains("--person", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("carol", warning, StringComparison.Ordinal);   // revoked
        Assert.DoesNotContain("dora", warning, StringComparison.Ordinal);    // names her person
        Assert.All(Legacy, t => Assert.DoesNotContain(logs.Lines, l => l.Contains(t.Token, StringComparison.Ordinal) || l.Contains(Hash(t.Token), StringComparison.Ordinal)));
    }

    [Fact]
    [Trait("control", "NIST-AU-10")]
    public async Task Start_WithTokensWhoseNameIsTheServicesOrAnotherPersons_WarnsNamingThem_NeverTheTokens()
    {
        // Stored by a version whose token create took any name.
        var database = MigratedDatabase();
        TestPeople.Add(database, "p-op-1", "p-op-2", "p-op-3");
        using (var connection = database.Open())
        {
            foreach (var (hash, name, person, revoked) in new[]
            {
                ("h1", "hr-feed", "p-op-2", false), ("h2", "adm", "p-op-1", false), ("h3", "ADM", "p-op-2", false),
                ("h4", "opthree", "p-op-3", false), ("h5", "opthree-desk", "p-op-3", false), ("h6", "site-file:old.yaml", "p-op-3", true),
            })
            {
                connection.Execute(
                    "INSERT INTO operator_tokens (token_hash, operator, role, person_id, created_at, created_by, revoked_at) VALUES (@hash, @name, 'admin', @person, 0, 'test', @revokedAt)",
                    new { hash, name, person, revokedAt = revoked ? (long?)1 : null });
            }
        }

        var logs = new CapturingLoggerProvider();
        using (var loggers = LoggerFactory.Create(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)))
        {
            await EdgeService.Create(Settings(), clock, RealTime.Instance, loggers).DisposeAsync();
        }

        var warning = Assert.Single(logs.Lines, l => l.StartsWith("Warning ", StringComparison.Ordinal) && l.Contains("does not say one person", StringComparison.Ordinal));
        Assert.Contains(": ADM (p-op-1, p-op-2), hr-feed (p-op-2). Issue", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("opthree", warning, StringComparison.Ordinal);     // one person's names, and a revoked one
        Assert.DoesNotContain("h1", warning, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public void Migrate_GivesEveryStoredTokenAnId_SoThatTheListNamesThem_WithWhyEachIsRefused()
    {
        var database = StoreAsAnOlderVersion();

        database.Migrate();
        var listed = new ApiTokens(database, clock).List().OrderBy(t => t.Operator, StringComparer.Ordinal).ToList();

        Assert.Equal(["alice", "bob", "carol", "dora"], listed.Select(t => t.Operator));
        Assert.All(listed, t => Assert.Matches("^tok-[0-9a-f]{16}$", t.Id));
        Assert.Equal(4, listed.Select(t => t.Id).Distinct().Count());
        Assert.Equal(["token_without_person", "token_without_person", "revoked", "person_unknown"], listed.Select(t => t.State));   // p-dora is nobody in this database
        Assert.Null(listed[2].RevokedBy);   // revoked before who was kept
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    public void Migrate_RevokesTheTokensOfPeopleTerminatedBefore_AsOfTheirTermination_AndNoOneElses()
    {
        // Up to version 19 only the HR feed's termination revoked tokens; one made another way left them unrevoked.
        var database = new Database(Settings().DatabasePath);
        using (var connection = database.Open())
        {
            connection.Execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
            foreach (var (version, name, sql) in Database.Scripts().Where(s => s.Version <= 19))
            {
                connection.Execute(sql);
                connection.Execute("INSERT INTO schema_migrations (version, name) VALUES (@version, @name)", new { version, name });
            }

            connection.Execute(
                """
                INSERT INTO people (id, name, kind, status, updated_at, updated_by) VALUES
                    ('p-gone', 'Gone', 'employee', 'terminated', 1000, 'alice'), ('p-here', 'Here', 'employee', 'active', 0, 'setup');
                INSERT INTO operator_tokens (token_hash, operator, role, person_id, created_at, created_by) VALUES
                    ('h1', 'gone', 'auditor', 'p-gone', 0, 'setup'), ('h2', 'here', 'auditor', 'p-here', 0, 'setup');
                """);
        }

        database.Migrate();
        var listed = new ApiTokens(database, clock).List().ToDictionary(t => t.Operator);

        Assert.Equal((OperatorToken.Revoked, NodaTime.Instant.FromUnixTimeMilliseconds(1000), "alice"), (listed["gone"].State, listed["gone"].RevokedAt, listed["gone"].RevokedBy));
        Assert.Equal(OperatorToken.Valid, listed["here"].State);
    }

    /// <summary>The <see cref="Legacy"/> tokens, stored as a version that did not ask for a person stored them.</summary>
    private Database StoreAsAnOlderVersion()
    {
        var database = new Database(Settings().DatabasePath);
        using var connection = database.Open();
        connection.Execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
        foreach (var (version, name, sql) in Database.Scripts().Where(s => s.Version <= LastVersionWithoutThePersonRule))
        {
            connection.Execute(sql);
            connection.Execute("INSERT INTO schema_migrations (version, name) VALUES (@version, @name)", new { version, name });
        }

        foreach (var (token, operatorName, role, person, revokedAt) in Legacy)
        {
            connection.Execute(
                "INSERT INTO operator_tokens (token_hash, operator, role, person_id, created_at, created_by, revoked_at) VALUES (@hash, @operatorName, @role, @person, 0, 'setup', @revokedAt)",
                new { hash = Hash(token), operatorName, role, person, revokedAt });
        }

        return database;
    }

    private static readonly (string Token, string Operator, string Role, string? Person, long? RevokedAt)[] Legacy =
    [
        ("legacy-admin-token-0123456789abcdefghijklmnopq", "alice", "admin", null, null),
        ("legacy-audit-token-0123456789abcdefghijklmnopq", "bob", "auditor", null, null),
        ("legacy-desk-token-0123456789abcdefghijklmnopqr", "carol", "frontdesk", null, 1),
        ("legacy-host-token-0123456789abcdefghijklmnopqr", "dora", "host", "p-dora", null),
    ];

    private ServiceSettings Settings()
    {
        var key = Path.Combine(folder.Path, "provisioning.key");
        if (!File.Exists(key))
        {
            File.WriteAllText(key, Convert.ToBase64String(DeviceSecrets.NewKey()));
        }

        return new ServiceSettings
        {
            DataDirectory = folder.Path,
            SiteFile = EdgeHarness.DemoSiteFile,
            HttpUrl = "http://127.0.0.1:0",
            Broker = new AccessControl.Broker.BrokerOptions { Port = 0 },
        };
    }

    private Database MigratedDatabase()
    {
        var database = new Database(Settings().DatabasePath);
        database.Migrate();
        return database;
    }

    private static string Hash(string token) => AdminHost.TokenHash(token);
}
