using AccessControl.Fingerprints;
using AccessControl.Hr;
using AccessControl.Storage;
using AccessControl.Visitors;
using Dapper;

namespace AccessControl.Hosting;

/// <summary>
/// Refuses a start whose data folder lacks a key file that the database's contents were made with: a restore that copied
/// the database and forgot a key. Each key is otherwise made new when its file is missing (a first start), and a new key
/// beside old data fails silently, some of it open: the desk no longer finds that an identity document is already on
/// site (its hash was keyed with the old PII key), the HR system's signed terminations are refused (leavers keep their
/// cards), every enrolled fingerprint is unreadable, every device's password is wrong. A key given by its environment
/// variable needs no file. The signing key has its own check (<see cref="EntryLog.LogSigningKey.RefuseMissing"/>).
/// </summary>
internal static class MissingKeys
{
    public static void Refuse(ServiceSettings settings, Database database)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(database);
        var pii = Path.IsPathRooted(settings.Visitors.PiiKeyFile) ? settings.Visitors.PiiKeyFile : Path.Combine(settings.DataDirectory, settings.Visitors.PiiKeyFile);
        (string File, string Variable, string Sql, string MadeWith)[] keys =
        [
            (pii, PiiKey.EnvironmentVariable,
                "SELECT COUNT(*) FROM visit_visitors WHERE doc_number_hmac IS NOT NULL",
                "visitors' identity document numbers were hashed with the key it held ({0} checked in)"),
            (Path.Combine(settings.DataDirectory, HrFeedKey.FileName), HrFeedKey.EnvironmentVariable,
                "SELECT COUNT(*) FROM hr_events",
                "the HR system signs its events with the key it held ({0} received)"),
            (settings.FingerprintKeyPath, FingerprintKeyring.EnvironmentVariable,
                "SELECT COUNT(*) FROM fingerprint_templates WHERE ciphertext IS NOT NULL",
                "fingerprint templates are sealed with the keys it held ({0} enrolled)"),
            (settings.KeyPath, ProvisioningKey.EnvironmentVariable,
                "SELECT COUNT(*) FROM (SELECT 1 FROM entry_log WHERE device_seq IS NOT NULL LIMIT 1)",
                "the devices' passwords were derived from the key it held (devices have sent events)"),
        ];

        using var connection = database.OpenReadOnly();
        foreach (var (file, variable, sql, madeWith) in keys)
        {
            if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(variable)) || File.Exists(file))
            {
                continue;
            }

            var made = connection.ExecuteScalar<long>(sql);
            if (made > 0)
            {
                throw new KeyFileException(file, "is missing, but " + string.Format(System.Globalization.CultureInfo.InvariantCulture, madeWith, made));
            }
        }
    }
}
