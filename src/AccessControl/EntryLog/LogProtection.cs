using AccessControl.Storage;
using Microsoft.Data.Sqlite;

namespace AccessControl.EntryLog;

/// <summary>
/// Compares the triggers that make the log's tables append-only with the ones the migrations make. The chain proves
/// what the rows say; the triggers are what stops an <c>UPDATE</c> or <c>DELETE</c> in the first place, and dropping
/// one (or defusing it with a <c>WHEN</c> that never holds) leaves the chain intact until someone uses the gap, so
/// <see cref="LogVerifier"/> reports it on its own.
/// </summary>
internal static class LogProtection
{
    private const string Triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('entry_log', 'log_checkpoints', 'log_purge')";

    /// <summary>The triggers (name, CREATE statement) as the log's migrations leave them, read from a database made by those scripts alone.</summary>
    internal static IReadOnlyDictionary<string, string> Made => Expected.Value;

    private static readonly Lazy<IReadOnlyDictionary<string, string>> Expected = new(() =>
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        foreach (var (_, _, sql) in Database.Scripts().Where(s => s.Name.Contains("entry_log", StringComparison.Ordinal)))
        {
            using var script = connection.CreateCommand();
            script.CommandText = sql;
            script.ExecuteNonQuery();
        }

        return Read(connection);
    });

    /// <param name="purgedUpTo">The last row the newest purge row of the chain purged (0: none), which is the only bound
    /// <c>log_purge</c> should hold: each purge step records its row and its bound in one transaction.</param>
    public static IReadOnlyList<ProtectionProblem> Check(SqliteConnection connection, long purgedUpTo)
    {
        var found = Read(connection);
        var problems = new List<ProtectionProblem>();
        foreach (var (name, sql) in Expected.Value.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (!found.TryGetValue(name, out var actual))
            {
                problems.Add(new ProtectionProblem(name, ProtectionProblems.TriggerMissing, $"trigger {name} is missing: the database no longer refuses what it refused ({Refuses(sql)})"));
            }
            else if (actual != sql)
            {
                problems.Add(new ProtectionProblem(name, ProtectionProblems.TriggerAltered, $"trigger {name} is not the one the migrations made: it may no longer refuse {Refuses(sql)}"));
            }
        }

        foreach (var name in found.Keys.Where(n => !Expected.Value.ContainsKey(n)).Order(StringComparer.Ordinal))
        {
            problems.Add(new ProtectionProblem(name, ProtectionProblems.TriggerAdded, $"trigger {name} on a log table was made by no migration"));
        }

        // The delete trigger compares with MAX(up_to_seq) of log_purge, a table that takes inserts: one row there with a
        // bound beyond the purges leaves every trigger as the migrations made it and yet lets a DELETE through.
        using var bound = connection.CreateCommand();
        bound.CommandText = "SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge";
        if (bound.ExecuteScalar() is long upTo && upTo != purgedUpTo)
        {
            problems.Add(new ProtectionProblem("entry_log_no_delete", ProtectionProblems.PurgeBoundAltered,
                $"log_purge lets a DELETE of entry_log through up to seq {upTo}, but the log's newest purge row purged up to seq {purgedUpTo}: "
                + "a bound no purge recorded, written by someone with the file"));
        }

        return problems;
    }

    private static Dictionary<string, string> Read(SqliteConnection connection)
    {
        var triggers = new Dictionary<string, string>(StringComparer.Ordinal);
        using var command = connection.CreateCommand();
        command.CommandText = Triggers;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            triggers[reader.GetString(0)] = reader.IsDBNull(1) ? "" : reader.GetString(1);
        }

        return triggers;
    }

    /// <summary>"UPDATE of entry_log", from the trigger's own text (its name says what it refuses).</summary>
    private static string Refuses(string sql)
    {
        var header = sql.Split('\n')[0];
        var verb = header.Contains("UPDATE", StringComparison.Ordinal) ? "UPDATE" : header.Contains("DELETE", StringComparison.Ordinal) ? "DELETE" : "a change";
        var table = header.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w != "ON").Skip(1).FirstOrDefault() ?? "its table";
        return $"{verb} of {table}";
    }
}
