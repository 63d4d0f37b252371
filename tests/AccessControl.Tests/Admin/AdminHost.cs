using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.People;
using AccessControl.Schedules;
using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.Support;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Admin;

/// <summary>
/// A real SQLite file in a temp directory and the admin API on real Kestrel (127.0.0.1, port 0). The audit append
/// is an <see cref="EntryLogWriter"/> on the same file; <see cref="FailAppends"/> makes it throw like a full disk.
/// </summary>
internal sealed class AdminHost : IAsyncDisposable
{
    public static readonly Instant Start = Instant.FromUtc(2025, 3, 3, 9, 0); // a Monday

    private readonly string directory;
    private readonly WebApplication app;
    private readonly Lock writeLock = new();

    private AdminHost(string directory, Database database, EntryLogWriter writer, FakeClock clock, LiveConfiguration configuration, WebApplication app, HttpClient client)
    {
        this.directory = directory;
        Database = database;
        Writer = writer;
        Clock = clock;
        Configuration = configuration;
        this.app = app;
        Client = client;
        Store = new CardholderStore(database);
        Query = new EntryLogQuery(database);
        Tokens = app.Services.GetRequiredService<ApiTokens>();
        Admin = app.Services.GetRequiredService<AdminService>();
        AdminToken = Tokens.CreateToken("alice", OperatorRole.Admin, "test-setup", "p-alice");
        AuditorToken = Tokens.CreateToken("bob", OperatorRole.Auditor, "test-setup", "p-bob");
    }

    /// <summary>The people behind <see cref="AdminToken"/> and <see cref="AuditorToken"/> (a token names a known person).</summary>
    public static string[] OperatorPeople { get; } = ["p-alice", "p-bob"];

    /// <summary>The live people other than <see cref="OperatorPeople"/>: the cardholders a test has added.</summary>
    public IEnumerable<PersonId> PeopleBesidesTheOperators => Configuration.Cardholders.People.Keys.Where(p => !OperatorPeople.Contains(p.Value));

    public Database Database { get; }

    public EntryLogWriter Writer { get; }

    public FakeClock Clock { get; }

    public LiveConfiguration Configuration { get; }

    public CardholderStore Store { get; }

    public EntryLogQuery Query { get; }

    public ApiTokens Tokens { get; }

    public AdminService Admin { get; }

    public HttpClient Client { get; }

    public string AdminToken { get; }

    public string AuditorToken { get; }

    public string DatabasePath => Database.Path;

    /// <summary>When set, the audit append throws (the entry log cannot be written).</summary>
    public bool FailAppends { get; set; }

    /// <summary>When set, only the append of that number (1 for the next one) throws, as a log that fails for a moment.</summary>
    public int? FailAppendNumber { get; set; }

    /// <summary>When set, each append awaits it first (with the row), before the row is written.</summary>
    public Func<LogEntry, Task>? BeforeAppend { get; set; }

    private int appends;

    public static SiteTopology Topology { get; } = new(
        [new Site(new SiteId("dc1"), "DC One", DateTimeZoneProviders.Tzdb["Europe/Amsterdam"])],
        [
            new Zone(new ZoneId("dc1-campus"), new SiteId("dc1"), "Campus", ZoneKind.Site, null, 1, AntiPassbackMode.Off, []),
            new Zone(new ZoneId("dc1-hall-a"), new SiteId("dc1"), "Hall A", ZoneKind.DataHall, new ZoneId("dc1-campus"), 3, AntiPassbackMode.Off, []),
        ],
        [
            new Door(new DoorId("door-hall-a"), new SiteId("dc1"), "Hall A door", new ZoneId("dc1-campus"), new ZoneId("dc1-hall-a"),
                new ControllerId("ctl-1"), Duration.FromSeconds(5), Duration.FromSeconds(30)),
        ],
        [new Reader(new ReaderId("rdr-hall-a-in"), ReaderKind.Card, new DoorId("door-hall-a"), Direction.In, Duration.FromSeconds(30))],
        [new DoorController(new ControllerId("ctl-1"), new SiteId("dc1"), "Controller 1")],
        [new Schedule(new ScheduleId("office-hours"), "Office hours", [], [], []) { Site = new SiteId("dc1") }]);

    public static async Task<AdminHost> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-admin-" + Guid.NewGuid().ToString("N"));
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        database.Migrate();
        var writer = new EntryLogWriter(database);
        var clock = new FakeClock(Start);
        TestPeople.Add(database, OperatorPeople); // before the snapshot is loaded, so the database and the snapshot agree
        var configuration = new LiveConfiguration(Topology, new CardholderStore(database).LoadAll());

        AdminHost? host = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(database);
        builder.Services.AddSingleton(configuration);
        builder.Services.AddSingleton<IClock>(clock);
        builder.Services.AddAdmin(_ => (entry, _) => host!.AppendAsync(entry));
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        app.MapAdminApi();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        var client = new HttpClient { BaseAddress = new Uri(address) };
        host = new AdminHost(directory, database, writer, clock, configuration, app, client);
        return host;
    }

    /// <summary>Adds a person without access levels through the admin service (audited, live and stored), e.g. the person behind a token.</summary>
    public async Task AddPersonAsync(string id, string status = "active")
    {
        var result = await Admin.UpsertPersonAsync(AdminActor.EverySite("test-setup"), id, new PersonInput(id, "employee", status));
        if (!result.IsOk)
        {
            throw new InvalidOperationException($"test setup: person {id} could not be added: {result.Message}");
        }
    }

    /// <summary>
    /// Stores a token that names no person, as a version that did not ask every token for one stored it (migration
    /// 0018's trigger refuses such a row now, so it is dropped first).
    /// </summary>
    public void StoreTokenWithoutPerson(string token, string operatorName)
    {
        using var connection = Database.Open();
        connection.Execute("DROP TRIGGER IF EXISTS operator_tokens_name_a_person");
        connection.Execute(
            "INSERT INTO operator_tokens (token_hash, operator, role, created_at, created_by) VALUES (@hash, @operatorName, 'admin', 0, 'setup')",
            new { hash = TokenHash(token), operatorName });
    }

    /// <summary>How a token is stored: lower-case hex SHA-256 of its UTF-8 bytes.</summary>
    public static string TokenHash(string token) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>What the pipeline's AppendAsync does, minus the batching: one durable row.</summary>
    public async Task<LogEntry> AppendAsync(LogEntry entry)
    {
        if (BeforeAppend is { } before)
        {
            await before(entry);
        }

        if (FailAppends || Interlocked.Increment(ref appends) == FailAppendNumber)
        {
            throw new EntryLogUnavailableException("test: the entry log cannot be written", null);
        }

        lock (writeLock)
        {
            return Writer.Append([entry])[0];
        }
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, string? token = null)
    {
        using var request = new HttpRequestMessage(method, "/api/v1" + path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            var json = body as string ?? JsonSerializer.Serialize(body, AdminJson.Options);
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return await Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> AsAdminAsync(HttpMethod method, string path, object? body = null) => SendAsync(method, path, body, AdminToken);

    public IReadOnlyList<LogEntry> Rows(string kind) => Query.Find(new LogFilter { Kind = kind });

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        Writer.Dispose();
        var unknownReasons = WrittenReasons.Unknown(Database);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
        Assert.True(unknownReasons.Count == 0, "The service wrote reasons a log query refuses (add them to their feature's *Actions class, or to LogReasons): " + string.Join(", ", unknownReasons));
    }
}
