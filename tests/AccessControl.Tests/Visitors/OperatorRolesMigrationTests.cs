using AccessControl.Admin;
using AccessControl.Storage;
using AccessControl.Tests.Support;
using Dapper;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Visitors;

/// <summary>
/// Migration 0006 (operator roles) rebuilds the token table for the visitor roles; tokens issued before it are kept
/// (and, as they name no person, refused since every token must name one: OperatorTokenRefusalTests).
/// </summary>
public class OperatorRolesMigrationTests
{
    private static readonly int RolesVersion = Database.Scripts().Single(s => s.Name.EndsWith("_operator_roles", StringComparison.Ordinal)).Version;

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public void Migrate_FromBeforeTheVisitorRoles_KeepsExistingTokens_AndAcceptsTheNewRoles()
    {
        var path = Path.Combine(Path.GetTempPath(), "ac-roles-" + Guid.NewGuid().ToString("N")[..12] + ".db");
        try
        {
            var database = new Database(path);
            var clock = new FakeClock(Instant.FromUtc(2026, 12, 1, 9, 0));
            using (var connection = database.Open())
            {
                connection.Execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
                foreach (var (version, name, sql) in Database.Scripts().Where(s => s.Version < RolesVersion))
                {
                    connection.Execute(sql);
                    connection.Execute("INSERT INTO schema_migrations (version, name) VALUES (@version, @name)", new { version, name });
                }
            }

            // A token made by the code of the time: the old columns only.
            const string oldToken = "old-admin-token-0123456789abcdefghijklmnopqrstuv";
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(oldToken)));
            using (var connection = database.Open())
            {
                connection.Execute(
                    "INSERT INTO operator_tokens (token_hash, operator, role, created_at, created_by, revoked_at) VALUES (@hash, 'root', 'admin', 0, 'setup', NULL)",
                    new { hash });
            }

            var applied = database.Migrate();
            TestPeople.Add(database, "p-jweber");
            var tokens = new ApiTokens(database, clock);
            var host = tokens.CreateToken("jweber", OperatorRole.Host, "test", "p-jweber");

            Assert.Contains(RolesVersion, applied);
            Assert.Equal(new TokenCheck(new OperatorIdentity("root", OperatorRole.Admin), TokenRefusals.WithoutPerson), tokens.Check(oldToken));
            Assert.Equal(new OperatorIdentity("jweber", OperatorRole.Host, "p-jweber"), tokens.Authenticate(host));
            using var check = database.Open();
            Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => check.Execute(
                "INSERT INTO operator_tokens (token_hash, operator, role, created_at, created_by) VALUES ('x', 'y', 'approver', 0, 'z')"));
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
}
