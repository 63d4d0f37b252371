using AccessControl.Cardholding;
using AccessControl.People;
using AccessControl.Storage;
using Dapper;

namespace AccessControl.Tests.Support;

/// <summary>
/// The people behind the tests' operator tokens. A token must name a known person who is not terminated (so that the
/// HR feed's termination of that person revokes it); a test whose operators are not cardholders of its site adds
/// them here, straight to the <c>people</c> table, as an import would have. They hold no access level and no card.
/// A running service's live snapshot sees them only after a restart: add them before the start when it matters.
/// </summary>
internal static class TestPeople
{
    public static void Add(Database database, params string[] personIds) => Add(database, PersonStatus.Active, personIds);

    public static void Add(Database database, PersonStatus status, params string[] personIds)
    {
        using var connection = database.Open();
        foreach (var id in personIds)
        {
            connection.Execute(
                """
                INSERT INTO people (id, name, kind, status, updated_at, updated_by) VALUES (@id, @id, 'employee', @status, 0, 'test-setup')
                ON CONFLICT (id) DO NOTHING
                """,
                new { id, status = status.ToCode() });
        }
    }
}
