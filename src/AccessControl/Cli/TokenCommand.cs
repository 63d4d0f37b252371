using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Cli;

/// <summary>
/// <c>accesscontrol token create --db PATH --operator NAME --role ROLE --person ID [--site SITE] [--by NAME]</c>,
/// <c>accesscontrol token revoke --db PATH (--operator NAME | --id ID) [--by NAME]</c> and <c>accesscontrol token list --db PATH [--json]</c>.
/// </summary>
/// <remarks>
/// Works on the database file, because the first admin token cannot come from the API it protects. The token is
/// printed once, alone on standard output (so <c>export AC_TOKEN=$(accesscontrol token create ...)</c> works);
/// only its hash is stored, with who created it and when. Each command is first recorded in the entry log (an
/// <c>admin</c> row <c>operator_token.create</c> or <c>operator_token.revoke</c>: who, the operator, role, person and site,
/// never the token), chained after the running service's rows; if that row cannot be written, nothing is changed. Nor
/// is it written on a database older than its checkpoint file until the service has recorded that rollback (<see cref="CliLogWriter"/>).
/// Who is the name given with <c>--by</c> (free text: anyone with shell access can type any name), and always, in the
/// detail, the OS account the command ran as (<c>osUser</c>, <c>osUid</c>); without <c>--by</c> that account is the actor too.
/// Every token names the employee behind it (<c>--person</c>), whatever its role: the HR feed's termination of that
/// person revokes it. So the person must be known (in the database's people, e.g. from the site file the service has
/// imported) and active; otherwise it is a usage error and nothing is created or recorded. <c>list</c> only reads: one
/// token a line (<see cref="ApiTokens.List"/>), or one JSON object a line with <c>--json</c>, the fields of
/// <c>GET /api/v1/tokens</c>; never a token or its hash.
/// </remarks>
public static class TokenCommand
{
    private static readonly string[] Known = ["db", "operator", "role", "person", "site", "by", "id"];

    /// <summary>The options that take no value.</summary>
    public static IReadOnlyCollection<string> Flags { get; } = ["json"];

    private static string Roles => string.Join("|", Enum.GetValues<OperatorRole>().Select(ApiTokens.RoleCode));

    /// <param name="account">The OS account the command runs as: in every audit row, and the creator when <c>--by</c> is not given.</param>
    public static int Run(CliArgs args, IClock clock, OsAccount account, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(account);
        var verb = args.Positionals.Count == 1 ? args.Positionals[0] : null;
        if (verb == "list")
        {
            return List(args, clock, output, error);
        }

        if (args.CheckOptions(Known) is { } problem)
        {
            return Usage(error, problem);
        }

        var path = args.Get("db");
        if (verb == "revoke" && args.Get("id") is { } id)
        {
            return args.Get("operator") is not null || string.IsNullOrWhiteSpace(path)
                ? Usage(error, "'revoke' takes --db and either --operator NAME (every token of that name) or --id ID (one token, from 'token list'), not both")
                : RevokeOne(path, id, args.Get("by") ?? account.ActorName, account, clock, error);
        }

        var operatorName = args.Get("operator");
        if (verb is not ("create" or "revoke") || string.IsNullOrWhiteSpace(path) || operatorName is null)
        {
            return Usage(error, "expected 'create' or 'revoke' with --db and --operator, or 'list' with --db");
        }

        if (!ApiTokens.IsValidOperatorName(operatorName))
        {
            return Usage(error, "--operator must be 1 to 64 characters of A-Z a-z 0-9 . _ : -");
        }

        var database = new Database(path);
        database.Migrate();
        var tokens = new ApiTokens(database, clock);
        var by = args.Get("by") ?? account.ActorName;
        if (verb == "revoke")
        {
            // The row names each token it revokes, so that every token of 'token list' has its revocation in the log.
            var ids = tokens.ValidIdsOf(operatorName);
            if (CliLogWriter.AppendAdminRowAt(database, clock, by, account, OperatorTokenActions.Revoke, new { operators = new[] { operatorName }, ids }, error) is not { } audited)
            {
                return ExitCodes.Failed;
            }

            int count;
            try
            {
                count = tokens.RevokeIds(ids, by);
            }
            catch (SqliteException ex)
            {
                return Failed(database, clock, by, account, OperatorTokenActions.Revoke, audited, new { ids }, ex, "no token was revoked", error);
            }

            error.WriteLine($"revoked {count} token(s) of {operatorName}");
            return ExitCodes.Ok;
        }

        if (!ApiTokens.TryParseRole(args.Get("role"), out var role))
        {
            return Usage(error, "--role must be one of " + Roles);
        }

        var person = args.Get("person");
        if (!ApiTokens.IsValidOperatorName(person))
        {
            return Usage(error, "--person ID is required (the employee behind the token, whose termination revokes it), and must be a valid id");
        }

        var site = args.Get("site");
        if (site is not null && !ApiTokens.IsValidOperatorName(site))
        {
            return Usage(error, "--site must be a site id");
        }

        // Before the audit row: a refused person creates and records nothing, like every other bad input here.
        if (tokens.PersonProblem(person) is { } refused)
        {
            return Usage(error, "--person: " + refused);
        }

        if (tokens.OperatorNameProblem(operatorName, person) is { } named)
        {
            return Usage(error, "--operator: " + named);
        }

        // The sites the service knows are those of its stored site files; a typo would make a token that can do nothing.
        if (site is not null)
        {
            var known = new SiteStore(database, clock).Newest().Select(f => f.Site).Order(StringComparer.Ordinal).ToList();
            if (known.Count == 0)
            {
                error.WriteLine($"warning: no site file is stored in this database yet, so --site {site} is not checked against the sites.");
            }
            else if (!known.Contains(site, StringComparer.Ordinal))
            {
                return Usage(error, $"--site: no site '{site}' in this database's site files; the known sites are {string.Join(", ", known)}");
            }
        }

        // The id is made first, so that the row names the token (token list shows it) and the two can be matched.
        var tokenId = ApiTokens.NewId();
        if (CliLogWriter.AppendAdminRowAt(database, clock, by, account, OperatorTokenActions.Create, new { id = tokenId, @operator = operatorName, role = ApiTokens.RoleCode(role), person, site }, error) is not { } created)
        {
            return ExitCodes.Failed;
        }

        string token;
        try
        {
            token = tokens.CreateToken(operatorName, role, by, person, site, tokenId);
        }
        catch (Exception ex) when (ex is SqliteException or ArgumentException)
        {
            // The person terminated or renamed meanwhile, a full disk, a busy database: the row said "created", so the log must say it was not.
            return Failed(database, clock, by, account, OperatorTokenActions.Create, created, new { id = tokenId }, ex, "no token was created", error);
        }

        output.WriteLine(token);
        error.WriteLine($"token for {operatorName} ({ApiTokens.RoleCode(role)}) created; it is shown only this once.");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// The change its row (<paramref name="audited"/>) recorded could not be made: a <c>&lt;action&gt;.failed</c> row says
    /// so, naming that row's seq and the tokens, so that the log does not show a token made or revoked that was not.
    /// </summary>
    private static int Failed(Database database, IClock clock, string by, OsAccount account, string action, LogEntry audited, object tokens, Exception failure, string outcome, TextWriter error)
    {
        var fields = System.Text.Json.JsonSerializer.SerializeToNode(tokens, AdminJson.Options)!.AsObject();
        fields["failedSeq"] = audited.Seq;
        fields["error"] = failure.GetType().Name;
        var recorded = CliLogWriter.AppendAdminRow(database, clock, by, account, LogReasons.Failed(action), fields, error);
        error.WriteLine($"error: {failure.Message}; {outcome}" + (recorded
            ? $" (the log says so: {LogReasons.Failed(action)} after row {audited.Seq})"
            : $", but the log's row {audited.Seq} says it was and that could not be corrected"));
        return ExitCodes.Failed;
    }

    /// <summary>Revokes the one token with this id (<c>token list</c> shows it): its operator's other tokens stay valid.</summary>
    private static int RevokeOne(string path, string id, string by, OsAccount account, IClock clock, TextWriter error)
    {
        var database = new Database(path);
        database.Migrate();
        var tokens = new ApiTokens(database, clock);

        // Before the audit row: an id that names no valid token records nothing.
        if (tokens.OperatorOf(id) is not { } operatorName)
        {
            error.WriteLine($"error: no valid token has the id '{id}' (see 'token list'); nothing was revoked");
            return ExitCodes.Failed;
        }

        if (CliLogWriter.AppendAdminRowAt(database, clock, by, account, OperatorTokenActions.Revoke, new { operators = new[] { operatorName }, id }, error) is not { } audited)
        {
            return ExitCodes.Failed;
        }

        string? revoked;
        try
        {
            revoked = tokens.Revoke(id, by);
        }
        catch (SqliteException ex)
        {
            return Failed(database, clock, by, account, OperatorTokenActions.Revoke, audited, new { ids = new[] { id } }, ex, "no token was revoked", error);
        }

        error.WriteLine(revoked is null ? $"token {id} was revoked meanwhile" : $"revoked token {id} of {operatorName}");
        return ExitCodes.Ok;
    }

    /// <summary>Every token, revoked ones too, as a table or (<c>--json</c>) one object a line. Reads only: a missing file is an error, not a new database.</summary>
    private static int List(CliArgs args, IClock clock, TextWriter output, TextWriter error)
    {
        if (args.CheckOptions(["db", "json"]) is { } problem)
        {
            return Usage(error, problem);
        }

        var path = args.Get("db");
        if (string.IsNullOrWhiteSpace(path))
        {
            return Usage(error, "expected 'list' with --db");
        }

        if (!File.Exists(path))
        {
            error.WriteLine($"error: no database at {path}");
            return ExitCodes.Failed;
        }

        IReadOnlyList<OperatorToken> tokens;
        try
        {
            tokens = new ApiTokens(new Database(path), clock).List();
        }
        catch (SqliteException ex)
        {
            error.WriteLine($"error: cannot read the tokens in {path} ({ex.Message}); a database of an older version is migrated by the service's first start");
            return ExitCodes.Failed;
        }

        if (args.Has("json"))
        {
            foreach (var token in tokens)
            {
                output.WriteLine(AdminJson.Serialize(token));
            }

            return ExitCodes.Ok;
        }

        List<string[]> table = [["ID", "OPERATOR", "ROLE", "PERSON", "SITE", "CREATED", "CREATED-BY", "REVOKED", "REVOKED-BY", "STATE"]];
        table.AddRange(tokens.Select(t => new[]
        {
            t.Id,
            t.Operator,
            t.Role,
            t.Person ?? "-",
            t.Site ?? "all",
            WireFormat.FormatInstant(t.CreatedAt),
            t.CreatedBy,
            t.RevokedAt is { } revoked ? WireFormat.FormatInstant(revoked) : "-",
            t.RevokedBy ?? "-",
            t.State,
        }));
        TextTable.Write(table, output);
        return ExitCodes.Ok;
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine("error: " + message);
        error.WriteLine($"usage: token create --db PATH --operator NAME --role {Roles} --person ID [--site SITE] [--by NAME]");
        error.WriteLine("       (--person: the employee behind the token, whatever its role; their termination revokes it)");
        error.WriteLine("       token revoke --db PATH (--operator NAME | --id ID) [--by NAME]");
        error.WriteLine("       (--operator: every token of that name; --id: the one token 'token list' shows with that id)");
        error.WriteLine("       token list --db PATH [--json]");
        return ExitCodes.Usage;
    }
}
