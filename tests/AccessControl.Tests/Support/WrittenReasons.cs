using AccessControl.EntryLog;
using AccessControl.Storage;

namespace AccessControl.Tests.Support;

/// <summary>
/// The reasons in a test's log that a log query would refuse (<see cref="LogReasons.Known"/>): checked by the harnesses at
/// dispose, so that a reason the service starts writing without adding it there fails the tests that make it write one.
/// Rows a test appends itself to mark a point carry <c>test.</c> reasons, which are not the service's.
/// </summary>
internal static class WrittenReasons
{
    public static IReadOnlyList<string> Unknown(Database database)
    {
        using var connection = database.OpenReadOnly();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT reason FROM entry_log WHERE reason IS NOT NULL AND reason NOT LIKE 'test.%'";
        using var reader = command.ExecuteReader();
        var unknown = new List<string>();
        while (reader.Read())
        {
            if (!LogReasons.Known.Contains(reader.GetString(0)))
            {
                unknown.Add(reader.GetString(0));
            }
        }

        return unknown;
    }
}
