using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.Schedules;
using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Fingerprints;

/// <summary>
/// An enrollment desk: a real SQLite file (WAL) in a temp folder, the fingerprint service on it, and (when started with
/// HTTP) the admin and fingerprint APIs on real Kestrel. The site has a server room that needs card + fingerprint.
/// People: Alice and Bob (employees with server-room access and a valid card), Dave (server-room access, no card),
/// Erik (the enrollment operator), a visitor with server-room access, and Frida (office only).
/// </summary>
internal sealed class FingerprintDesk : IAsyncDisposable
{
    public static readonly Instant Start = Instant.FromUtc(2026, 12, 1, 9, 0);

    public static readonly PersonId Alice = new("p-alice");
    public static readonly PersonId Bob = new("p-bob");
    public static readonly PersonId Dave = new("p-dave");
    public static readonly PersonId Erik = new("p-erik");
    public static readonly PersonId Visitor = new("v-0001");
    public static readonly PersonId Frida = new("p-frida");

    /// <summary>The enrollment operator, as the API would see their token.</summary>
    public static readonly OperatorIdentity Enroller = new("erik", OperatorRole.Enrollment, Erik.Value);

    private readonly WebApplication? app;
    private readonly Lock writeLock = new();

    private FingerprintDesk(string directory, Database database, FakeClock clock, LiveConfiguration configuration, FingerprintKeyring keyring, WebApplication? app)
    {
        KeyringSource = () => keyring;
        Directory = directory;
        Database = database;
        Clock = clock;
        Configuration = configuration;
        Writer = new EntryLogWriter(database);
        Query = new EntryLogQuery(database);
        Store = new FingerprintStore(database);
        this.app = app;
        if (app is null)
        {
            Templates = new FingerprintTemplates(Store, keyring, NullLogger<FingerprintTemplates>.Instance);
            Service = new FingerprintService(Store, Templates, configuration, (e, _) => AppendAsync(e), Options, () => KeyringSource(), clock, NullLogger<FingerprintService>.Instance);
        }
        else
        {
            Templates = app.Services.GetRequiredService<FingerprintTemplates>();
            Service = app.Services.GetRequiredService<FingerprintService>();
            Tokens = app.Services.GetRequiredService<ApiTokens>();

            // A token names a person of the people table: the desk's cardholders (kept in the snapshot only), an auditor and a host.
            TestPeople.Add(database, [.. configuration.Cardholders.People.Keys.Select(p => p.Value), "p-audrey", "p-jweber"]);
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            Address = new Uri(address);
            Client = new HttpClient { BaseAddress = Address };
        }

        Service.Load();
    }

    public string Directory { get; }

    public Database Database { get; }

    public FakeClock Clock { get; }

    public LiveConfiguration Configuration { get; }

    public EntryLogWriter Writer { get; }

    public EntryLogQuery Query { get; }

    public FingerprintStore Store { get; }

    public FingerprintTemplates Templates { get; }

    public FingerprintService Service { get; }

    public ApiTokens? Tokens { get; }

    public Uri? Address { get; }

    public HttpClient? Client { get; }

    public static FingerprintOptions Options { get; } = new();

    /// <summary>What <see cref="FingerprintService.RekeyAsync"/> reads the keys from (a test swaps it to "edit the key file").</summary>
    public Func<FingerprintKeyring> KeyringSource { get; set; }

    /// <summary>Called with each audit row before it is appended (to look at the database at that moment).</summary>
    public Action<LogEntry>? BeforeAppend { get; set; }

    public bool FailAppends { get; set; }

    public static SiteTopology Topology { get; } = new(
        [new Site(new SiteId("dc1"), "DC One", DateTimeZoneProviders.Tzdb["Europe/Berlin"])],
        [
            new Zone(new ZoneId("dc1-campus"), new SiteId("dc1"), "Campus", ZoneKind.Site, null, 1, AntiPassbackMode.Off, []),
            new Zone(new ZoneId("dc1-office"), new SiteId("dc1"), "Office", ZoneKind.Building, new ZoneId("dc1-campus"), 2, AntiPassbackMode.Off, []),
            new Zone(new ZoneId("dc1-server-room"), new SiteId("dc1"), "Server room", ZoneKind.ServerRoom, new ZoneId("dc1-campus"), 4, AntiPassbackMode.Off, [])
            {
                Fingerprint = FingerprintPolicy.Default,
            },
        ],
        [],
        [],
        [],
        [Schedule.Always]);

    public static Cardholders People()
    {
        var server = new AccessLevel(new AccessLevelId("server-room"), "Server room", [new ZoneId("dc1-campus"), new ZoneId("dc1-server-room")], ScheduleId.Always);
        var office = new AccessLevel(new AccessLevelId("office"), "Office", [new ZoneId("dc1-campus"), new ZoneId("dc1-office")], ScheduleId.Always);
        Person Employee(PersonId id, string name, params AccessLevelId[] levels) => new(id, name, PersonKind.Employee, PersonStatus.Active, [.. levels]);
        Credential Card(string uid, PersonId person) => new(uid, "desfire-ev3", person, null, null, CredentialStatus.Active);
        return Cardholders.Create(
            [
                Employee(Alice, "Alice Adler", server.Id),
                Employee(Bob, "Bob Berg", server.Id),
                Employee(Dave, "Dave Dorn", server.Id),
                Employee(Erik, "Erik Enroll", office.Id),
                Employee(Frida, "Frida Falk", office.Id),
                new Person(Visitor, "Val Visitor", PersonKind.Visitor, PersonStatus.Active, [server.Id]),
            ],
            [Card("04A11CE0000001", Alice), Card("04B0B000000002", Bob), Card("04E81C00000003", Erik), Card("04F81DA0000004", Frida)],
            [server, office]);
    }

    /// <summary>The service alone (no HTTP).</summary>
    public static Task<FingerprintDesk> OpenAsync(FingerprintKeyring? keyring = null) =>
        Create(keyring ?? FingerprintKeyring.NewRandom(), http: false);

    /// <summary>The service behind the admin and fingerprint APIs on Kestrel.</summary>
    public static Task<FingerprintDesk> StartHttpAsync(FingerprintKeyring? keyring = null) => Create(keyring ?? FingerprintKeyring.NewRandom(), http: true);

    private static async Task<FingerprintDesk> Create(FingerprintKeyring keyring, bool http)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-fp-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        database.Migrate();
        var clock = new FakeClock(Start);
        var configuration = new LiveConfiguration(Topology, People());
        if (!http)
        {
            return new FingerprintDesk(directory, database, clock, configuration, keyring, null);
        }

        FingerprintDesk? desk = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(database);
        builder.Services.AddSingleton(configuration);
        builder.Services.AddSingleton<IClock>(clock);
        builder.Services.AddAdmin(_ => (entry, _) => desk!.AppendAsync(entry));
        builder.Services.AddFingerprints(Options, keyring, () => desk!.KeyringSource());
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        app.MapAdminApi();
        app.MapFingerprintApi();
        await app.StartAsync();
        desk = new FingerprintDesk(directory, database, clock, configuration, keyring, app);
        return desk;
    }

    /// <summary>What the pipeline's AppendAsync does, minus the batching: one durable row.</summary>
    public Task<LogEntry> AppendAsync(LogEntry entry)
    {
        BeforeAppend?.Invoke(entry);
        if (FailAppends)
        {
            throw new EntryLogUnavailableException("test: the entry log cannot be written", null);
        }

        lock (writeLock)
        {
            return Task.FromResult(Writer.Append([entry])[0]);
        }
    }

    public IReadOnlyList<LogEntry> Rows(string kind) => Query.Find(new LogFilter { Kind = kind });

    /// <summary>Recognisable random template bytes: 300 bytes that appear nowhere by chance.</summary>
    /// <summary>A key file with one key, and the same file after a new key was appended (step 1 of a rotation).</summary>
    public static (FingerprintKeyring Before, FingerprintKeyring After) KeyRotation()
    {
        var k1 = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var k2 = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        return (FingerprintKeyring.Parse($"k1 {k1}", "keys"), FingerprintKeyring.Parse($"k1 {k1}\nk2 {k2}", "keys"));
    }

    public static byte[] NewTemplate() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(300);

    public Task<FingerprintResult<FingerprintRecord>> EnrollAsync(PersonId person, string finger, byte[]? template = null, bool replace = false) =>
        Service.EnrollAsync(Enroller, person.Value, finger, "enroll-station-1", "ac-sim-v1", template ?? NewTemplate(), replace);

    public HttpClient ClientFor(string token)
    {
        var client = new HttpClient { BaseAddress = Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static StringContent Json(object body) => new(JsonSerializer.Serialize(body, AdminJson.Options), Encoding.UTF8, "application/json");

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        Writer.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
