using System.Security.Cryptography;
using System.Text;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;
using NodaTime;

namespace AccessControl.Sites;

/// <summary>
/// Keeps every site file the service loaded, whole, with who loaded it and when. The topology is rebuilt from the
/// newest file of each site at start-up, so the service decides with the same layout after a restart.
/// </summary>
public sealed class SiteStore(Database database, IClock clock)
{
    /// <summary>
    /// Records a validated site file and returns its SHA-256; null when the newest stored file of that site is identical,
    /// and then writes nothing (a restart with the same <c>--site</c> must work on a full disk). A new file's cardholders
    /// are imported at this start (<see cref="Unimported"/>); a file given again is imported again by the caller.
    /// </summary>
    public string? Save(SiteId site, string fileName, string content, string loadedBy)
    {
        var sha = Sha256Of(content);
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        var newest = connection.QuerySingleOrDefault<string>(
            "SELECT sha256 FROM site_files WHERE site_id = @site ORDER BY id DESC LIMIT 1", new { site = site.Value }, transaction);
        if (newest == sha)
        {
            return null;
        }

        connection.Execute(
            "INSERT INTO site_files (site_id, loaded_at, loaded_by, file_name, sha256, content) VALUES (@site, @at, @by, @file, @sha, @content)",
            new { site = site.Value, at = clock.GetCurrentInstant(), by = loadedBy, file = Path.GetFileName(fileName), sha, content },
            transaction);
        transaction.Commit();
        return sha;
    }

    /// <summary>
    /// The newest stored file of each site whose <c>site.load</c> row is not in the entry log yet: stored by a start that
    /// failed before the pipeline ran, or just now by this one. Oldest first.
    /// </summary>
    public IReadOnlyList<StoredSiteFile> Unlogged() => NewestWithout("logged_seq");

    /// <summary>Notes the entry-log row that records a stored file, so that no later start records it again.</summary>
    public void MarkLogged(StoredSiteFile file, long seq)
    {
        using var connection = database.Open();
        connection.Execute("UPDATE site_files SET logged_seq = @seq WHERE id = @id", new { seq, id = file.Id });
    }

    /// <summary>
    /// The newest stored file of each site whose people, credentials and access levels are not (all) imported yet:
    /// just stored by this start, or left by a start that failed before its import or during it. Oldest first.
    /// </summary>
    public IReadOnlyList<StoredSiteFile> Unimported() => NewestWithout("imported_at");

    /// <summary>Notes that a stored file's cardholders are all imported, so that no later start imports them again.</summary>
    public void MarkImported(StoredSiteFile file)
    {
        using var connection = database.Open();
        connection.Execute("UPDATE site_files SET imported_at = @at WHERE id = @id", new { at = clock.GetCurrentInstant(), id = file.Id });
    }

    /// <summary>
    /// The newest file of <paramref name="site"/> whose cardholders were imported, parsed again, with its SHA-256: what the
    /// site last declared. Asked before a file is marked imported, it is the previous file of a new one (whose import
    /// takes away what this one declared and the new one does not), or the file itself when it is given again. Null
    /// when none of the site's files was imported yet.
    /// </summary>
    public ImportedSiteFile? LastImported(SiteId site)
    {
        using var connection = database.Open();
        return connection.Query<(string File, string Sha256, string Content)>(
                "SELECT file_name, sha256, content FROM site_files WHERE site_id = @site AND imported_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                new { site = site.Value })
            .Select(r => new ImportedSiteFile(r.Sha256, Parse(site.Value, r.File, r.Content)))
            .SingleOrDefault();
    }

    /// <summary>The SHA-256 of <see cref="LastImported"/>'s file without reading it again; null when none was imported yet.</summary>
    public string? LastImportedSha256(SiteId site)
    {
        using var connection = database.Open();
        return connection.QuerySingleOrDefault<string?>(
            "SELECT sha256 FROM site_files WHERE site_id = @site AND imported_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            new { site = site.Value });
    }

    /// <summary>The newest stored file of every site, parsed again. A stored file that no longer parses is an error, not skipped.</summary>
    public IReadOnlyList<SiteDefinition> LoadNewest() => [.. LoadNewest(_ => SiteReading.Full).Select(s => s.Definition!)];

    /// <summary>
    /// The newest stored file of every site, read again as <paramref name="reading"/> says for each (oldest site first;
    /// <see cref="SiteReading.Skip"/> leaves a file out). A file's layout is a fraction of the time its people and cards
    /// take to read, at a site of many. A stored file that no longer parses is an error, not skipped.
    /// </summary>
    public IReadOnlyList<StoredSite> LoadNewest(Func<StoredSiteFile, SiteReading> reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        using var connection = database.Open();
        var sites = new List<StoredSite>();
        foreach (var file in Newest())
        {
            var how = reading(file);
            if (how == SiteReading.Skip)
            {
                continue;
            }

            var content = connection.QuerySingle<string>("SELECT content FROM site_files WHERE id = @id", new { id = file.Id });
            var label = $"{file.FileName} (stored copy of site {file.Site})";
            if (how == SiteReading.Full)
            {
                var definition = Parse(file.Site, file.FileName, content);
                sites.Add(new StoredSite(file, new SiteLayout(definition.Topology, definition.AccessLevels), definition));
            }
            else
            {
                var layout = SiteFileLoader.ParseLayout(content, label);
                sites.Add(new StoredSite(file, layout.Success ? layout.Layout! : throw NoLongerLoads(file.Site, layout.Errors), null));
            }
        }

        return sites;
    }

    /// <summary>The newest stored file of every site (without its text), by site id.</summary>
    public IReadOnlyList<StoredSiteFile> Newest()
    {
        using var connection = database.Open();
        return [.. connection.Query<StoredSiteFile>("""
            SELECT f.id, f.site_id AS Site, f.file_name AS FileName, f.sha256, f.loaded_by AS LoadedBy FROM site_files f
            WHERE f.id = (SELECT MAX(id) FROM site_files g WHERE g.site_id = f.site_id)
            ORDER BY f.site_id
            """)];
    }

    /// <summary>The SHA-256 a site file's text is stored under (of its UTF-8 bytes, lower-case hex).</summary>
    public static string Sha256Of(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    /// <summary>The newest stored file of each site whose <paramref name="column"/> (a fixed name, not input) is not set yet, oldest first.</summary>
    private IReadOnlyList<StoredSiteFile> NewestWithout(string column)
    {
        using var connection = database.Open();
        return [.. connection.Query<StoredSiteFile>($"""
            SELECT f.id, f.site_id AS Site, f.file_name AS FileName, f.sha256, f.loaded_by AS LoadedBy FROM site_files f
            WHERE f.id = (SELECT MAX(id) FROM site_files g WHERE g.site_id = f.site_id) AND f.{column} IS NULL
            ORDER BY f.id
            """)];
    }

    private static SiteDefinition Parse(string site, string file, string content)
    {
        var parsed = SiteFileLoader.Parse(content, $"{file} (stored copy of site {site})");
        return parsed.Success ? parsed.Site! : throw NoLongerLoads(site, parsed.Errors);
    }

    private static InvalidDataException NoLongerLoads(string site, IEnumerable<SiteFileError> errors) =>
        new($"The stored site file of site {site} does not load any more: {string.Join("; ", errors)}");
}

/// <summary>How much of a stored site file <see cref="SiteStore.LoadNewest(Func{StoredSiteFile, SiteReading})"/> reads again.</summary>
public enum SiteReading
{
    /// <summary>Not at all: the file is left out.</summary>
    Skip,

    /// <summary>Its layout (<see cref="SiteFileLoader.ParseLayout"/>): enough to decide with, once its cardholders are imported.</summary>
    Layout,

    /// <summary>All of it, people and credentials too: to import it, or to check another file against what it declares.</summary>
    Full,
}

/// <summary>A site's newest stored file, read again: its layout always, the whole definition when read in full.</summary>
public sealed record StoredSite(StoredSiteFile File, SiteLayout Layout, SiteDefinition? Definition)
{
    public SiteId Site => Layout.Topology.Sites.Keys.Single();
}

/// <summary>A stored site file as its <c>site.load</c> row names it: who loaded it, the file's name and its SHA-256.</summary>
public sealed record StoredSiteFile(long Id, string Site, string FileName, string Sha256, string LoadedBy);

/// <summary>A stored site file whose cardholders were imported: its SHA-256 and what it declares.</summary>
public sealed record ImportedSiteFile(string Sha256, SiteDefinition Site);
