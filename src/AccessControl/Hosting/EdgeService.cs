using System.Threading.Channels;
using AccessControl.Admin;
using AccessControl.Broker;
using AccessControl.Cardholding;
using AccessControl.Devices;
using AccessControl.Display;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Hosting;

/// <summary>
/// One site edge, composed: database, live configuration, embedded broker (or none), the service's link to its broker,
/// the event pipeline and the supervision ticker. Start it, and card swipes are decided; dispose it, and it stops.
/// The HTTP admin API is layered on top by <c>AccessControlHost</c>.
/// </summary>
public sealed class EdgeService : IAsyncDisposable
{
    private readonly ServiceSettings settings;
    private long indexWatermark = -1;

    /// <summary>The index build left to the log-maintenance job, while there is one; that job's alone once it runs.</summary>
    private IndexBuild? indexBuild;

    private readonly TaskCompletionSource indexBuilt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Channel<SecurityEvent> securityEvents;
    private readonly SecurityEventBudget securityBudget;
    private readonly List<Task> loops = [];
    private readonly LowPriorityWorker maintenance = new("ac-log-maintenance");

    /// <summary>The service's own verification of the entry log (made at start, with its own low-priority thread).</summary>
    private readonly List<Func<CancellationToken, Task<IReadOnlyList<Supervision.Alarm>>>> supervisors = [];
    private IServiceLink? connection;
    private GcPauseTrace? gcPauses;
    private readonly byte[] journalKey;
    private readonly SemaphoreSlim journalRetry = new(1, 1);
    private volatile OutageJournalState outageJournalState;
    private bool journalHeldEarlierOutage;

    /// <summary>The newest site file of each site, as Create read them (the one given with <c>--site</c> among them).</summary>
    private IReadOnlyDictionary<SiteId, SiteDefinition> newestSites = new Dictionary<SiteId, SiteDefinition>();

    /// <summary>The site given with <c>--site</c> at this start, imported again even when it is stored already.</summary>
    private SiteId? givenSite;

    private EdgeService(ServiceSettings settings, IClock clock, TimeProvider time, ILoggerFactory loggers, Database database,
        DeviceSecrets secrets, LiveConfiguration configuration, FingerprintKeyring fingerprintKeys, (IReadOnlyList<LogRollback> Found, OsAccount AcceptedBy)? rollbacks = null)
    {
        this.settings = settings;
        this.time = time;
        securityBudget = new SecurityEventBudget(settings.Broker.SecurityEvents);
        securityEvents = Channel.CreateBounded<SecurityEvent>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest },
            securityBudget.Dropped);
        Clock = clock;
        Loggers = loggers;
        logger = loggers.CreateLogger<EdgeService>();
        Database = database;
        Secrets = secrets;
        Configuration = configuration;
        Topics = new Topics(settings.Broker.TopicRoot);
        Log = new EntryLogQuery(database);
        OutageJournal? journal = null;
        try
        {
            var checkpointing = LogCheckpointing.ForDataFolder(settings.DataDirectory, clock, settings.LogIntegrity);

            // An accepted rollback: the old file goes aside first, so that the writer files the database's own checkpoints
            // into a new one and never appends to a file that signs other rows at the same seqs. It goes aside under a name
            // that says its rollback is not in the log yet, and takes its final name only after its row (LogRollback's
            // remarks): a start that stops in between leaves a rollback the next one refuses again, never one it goes past.
            // (A file found so, moved by an earlier start, is already aside.)
            var movedAt = clock.GetCurrentInstant();
            var aside = rollbacks?.Found.Select(r => r.MovedAsideAt is null ? (Rollback: r.MoveAside(movedAt), Earlier: false) : (Rollback: r, Earlier: true)).ToList() ?? [];
            Writer = new EntryLogWriter(database, checkpointing, loggers.CreateLogger<EntryLogWriter>());
            try
            {
                if (Writer.RecordUnsignedAtStart() is { } unsigned)
                {
                    logger.LogWarning("The entry log had rows after its last signed checkpoint at start ({Detail}); a clean stop leaves none but those of the CLI. Recorded in row {Seq}, then signed with the rest.", unsigned.Detail, unsigned.Seq);
                }
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                // Not a reason to keep the doors shut: the rows are still there, and the next checkpoint signs them.
                logger.LogError(ex, "The rows after the entry log's last signed checkpoint could not be recorded at start.");
            }

            foreach (var (rolledBack, earlier) in aside)
            {
                // After unsigned_at_start, which names the restored log's own unsigned rows, not this one. A failure here
                // stops the start, the file still named unrecorded: a rollback accepted without its row would be one nobody can see.
                var row = Writer.Append([rolledBack.Entry(clock.GetCurrentInstant(), rollbacks!.Value.AcceptedBy, earlier)])[0];
                var movedTo = rolledBack.MarkRecorded();
                logger.LogWarning("The entry log was rolled back: it ended at seq {Head} but checkpoints signed up to seq {Seq}; accepted by {Who}, recorded in row {Row}. The old checkpoint file was moved to {MovedTo}{Earlier}.",
                    rolledBack.Head, rolledBack.Checkpoint.Seq, rollbacks.Value.AcceptedBy, row.Seq, movedTo, earlier ? " by an earlier start that stopped before recording it" : "");
            }

            // The query index is brought up to date before the history below is read through it when it is a few rounds
            // behind (a restart), then kept up to date by a periodic job. An index to build again from a large log (a
            // restored database, a deleted or damaged file, an upgrade of its schema) or far behind would keep every door
            // shut for as long as that takes (about 25 s a million rows): the history then reads what there is of it, and
            // the log itself past it, and the periodic job builds the rest while the service takes swipes.
            // An index that cannot be written (a full disk, a file in the way) does not stop the service: queries and the
            // history then read the log itself, and the periodic job keeps trying.
            Index = new LogIndex(database);
            try
            {
                var lag = Index.Lag();
                if (lag.RowsBehind > settings.IndexStartCatchUpRows)
                {
                    BuildIndexInBackground(lag.RebuildBecause ?? $"it is {lag.RowsBehind} rows behind the log");
                }
                else
                {
                    var indexed = Index.CatchUpFully();
                    if (indexed.Rebuilt)
                    {
                        logger.LogInformation("Log index {Path} built: {Rows} rows, because {Why}.", Index.Path, indexed.Copied, indexed.Why);
                    }
                }
            }
            catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
            {
                logger.LogError(ex, "Log index {Path} could not be brought up to date; queries and start-up read the log itself until it can.", Index.Path);
            }

            if (indexBuild is null)
            {
                indexBuilt.TrySetResult();
            }

            Publisher = new ConnectionPublisher(this);
            FingerprintStore = new FingerprintStore(database);
            var templates = new FingerprintTemplates(FingerprintStore, fingerprintKeys, loggers.CreateLogger<FingerprintTemplates>());
            journalKey = checkpointing.Key.DeriveKey(OutageJournal.KeyPurpose);
            var opened = OpenOutageJournal(settings.Pipeline, settings.DataDirectory, journalKey, logger);
            (journal, outageJournalState) = (opened.Journal, opened.State);
            Pipeline = new EventPipeline(configuration, Writer, Publisher, clock, Topics, settings.Pipeline, loggers.CreateLogger<EventPipeline>(), time, templates,
                DeviceSeqBaselines.Load(database, settings.Pipeline.ReplayWindow), PassbackHistory.Load(database, configuration.Topology),
                FingerprintLockHistory.Load(database, clock.GetCurrentInstant(), logger), LifeSafety.FireState.Load(database, logger),
                EscortHistory.Load(database, configuration.Topology, clock.GetCurrentInstant() - settings.Pipeline.EscortRebuildWindow, logger),
                journal, Supervision.DoorHistory.Load(database, configuration.Topology, clock.GetCurrentInstant()),
                Supervision.OfflineHistory.Load(database, configuration.Topology, clock.GetCurrentInstant()));
            // The entry log's verifications, the periodic one (started by StartAsync) and an auditor's GET /log/verify
            // alike: one walk at a time, on a thread of the lowest priority, each raising what it finds.
            LogWatch = new LogWatch(LogVerifier.ForDataFolder(database, settings.DataDirectory), settings.LogIntegrity.VerifyInterval > TimeSpan.Zero,
                clock, loggers.CreateLogger<LogWatch>(), Pipeline.RaiseAsync);
            Cardholders = new CardholderStore(database);
            StoredSites = new SiteStore(database, clock);
            Admin = new AdminService(Cardholders, configuration, Pipeline.AppendAsync, clock, loggers.CreateLogger<AdminService>(), Pipeline.AppendAllAsync);
            Fingerprints = new FingerprintService(FingerprintStore, templates, configuration, Pipeline.AppendAsync, settings.Fingerprints,
                () => FingerprintKeyring.Load(settings.FingerprintKeyPath), clock, loggers.CreateLogger<FingerprintService>());
            Fingerprints.Load();
            if (settings.Broker.Mode == BrokerMode.Embedded)
            {
                Broker = new EmbeddedBroker(settings.Broker.Port, Topics, () => Configuration.Topology, secrets, clock, time,
                    e => securityEvents.Writer.TryWrite(e), settings.Broker.Tls, MosquittoConfig.MaxPublishPayloadBytes(settings.Pipeline.MaxPayloadBytes),
                    settings.Broker.PreLogin, loggers.CreateLogger<EmbeddedBroker>());
            }
        }
        catch
        {
            // Nobody else will: Create's caller gets no service to dispose, and a host that catches and tries again
            // would keep a connection, the journal's file and the maintenance thread open with every attempt.
            DisposeUnstarted(journal);
            throw;
        }
    }

    public IClock Clock { get; }

    public ILoggerFactory Loggers { get; }

    public Database Database { get; }

    public DeviceSecrets Secrets { get; }

    public LiveConfiguration Configuration { get; }

    public Topics Topics { get; }

    public EntryLogQuery Log { get; }

    /// <summary>The entry log's verifications: the service's own every interval, and an auditor's on request (<c>GET /api/v1/log/verify</c>).</summary>
    public LogWatch LogWatch { get; }

    /// <summary>The entry log's query index, beside the database; derived data, rebuilt from the log when needed.</summary>
    public LogIndex Index { get; }

    public EventPipeline Pipeline { get; }

    /// <summary>Where people, credentials and access levels are stored.</summary>
    public CardholderStore Cardholders { get; }

    /// <summary>Every site file loaded, whole; the newest of each site is the layout the service decides with.</summary>
    public SiteStore StoredSites { get; }

    /// <summary>The one place admin changes happen (validated, audited, then live).</summary>
    public AdminService Admin { get; }

    /// <summary>
    /// The one place fingerprint templates are enrolled, revoked and re-encrypted (audited, then stored, then live);
    /// its <see cref="FingerprintService.Templates"/> is what the pipeline reads templates from.
    /// </summary>
    public FingerprintService Fingerprints { get; }

    /// <summary>Where the encrypted fingerprint templates are stored.</summary>
    public FingerprintStore FingerprintStore { get; }

    /// <summary>The embedded broker, when <see cref="BrokerMode.Embedded"/>.</summary>
    public EmbeddedBroker? Broker { get; }

    /// <summary>Where devices connect: the embedded broker's actual port, or the external broker's.</summary>
    public int BrokerPort => Broker?.Port ?? settings.Broker.Port;

    public string BrokerHost => Broker is null ? settings.Broker.Host : EmbeddedBroker.Host;

    /// <summary>How the service meets its broker: inside the embedded one, or as an MQTT client (null until started).</summary>
    public IServiceLink? Connection => connection;

    internal EntryLogWriter Writer { get; }

    /// <summary>The folder of the database, the index and the checkpoint file.</summary>
    public string DataDirectory => settings.DataDirectory;

    /// <summary>Whether the outage journal is made or opened, at start or since (the health check <c>outage-journal</c>).</summary>
    public OutageJournalState OutageJournalState => outageJournalState;

    /// <summary>
    /// Completes when the index build the start left to the background job is done: at once when the start brought the
    /// index up to date itself (or could not write it).
    /// </summary>
    internal Task IndexBuilt => indexBuilt.Task;

    /// <summary>The query index's watermark after its last round; null until the first round since the start.</summary>
    public long? IndexWatermark => Interlocked.Read(ref indexWatermark) is var w and >= 0 ? w : null;

    private ConnectionPublisher Publisher { get; }

    /// <summary>
    /// Opens (and migrates) the database, loads the provisioning key and the site: the site file if one is given
    /// (a bad file stops the start with every error listed; nothing is changed), else the newest stored site files.
    /// A site file is checked against the other stored sites before it is stored: a zone, door or device id that one
    /// of them holds, the id of an access level that gives access at one of them, or a person or card that one of their
    /// files declares (or a card of such a person), is an error of the file
    /// (<see cref="SiteFileException"/>). Stored sites that share ids (stored by a
    /// version that did not check) stop the start with <see cref="StoredSitesConflictException"/>, which says how to fix them.
    /// A start that fails leaves nothing open: what the constructor made is disposed in reverse order, then the database's
    /// pooled connections are closed, so that a host that catches the failure and tries again holds nothing of it.
    /// </summary>
    public static EdgeService Create(ServiceSettings settings, IClock clock, TimeProvider time, ILoggerFactory loggers)
    {
        var errors = settings.Validate();
        if (errors.Count > 0)
        {
            throw new SettingsException("Invalid settings: " + string.Join(" ", errors));
        }

        var startLogger = loggers.CreateLogger<EdgeService>();
        PrepareDataFolder(settings.DataDirectory, startLogger);
        var database = new Database(settings.DatabasePath);
        try
        {
            database.Migrate();
            return CreateOn(database, settings, clock, time, loggers, startLogger);
        }
        catch
        {
            // After the constructor has disposed what it made: the connections the pool keeps on the file would hold it
            // (its WAL, its locks) for as long as the process lives, one more set with every attempt of a host that retries.
            database.CloseIdleConnections();
            throw;
        }
    }

    /// <summary>The rest of <see cref="Create"/>, on the migrated database: the rollback check, the keys, the sites, the service.</summary>
    private static EdgeService CreateOn(Database database, ServiceSettings settings, IClock clock, TimeProvider time, ILoggerFactory loggers, ILogger startLogger)
    {
        // Before the writer opens (it may sign and file checkpoints) and before any row: a database older than its
        // checkpoint file would be written over seqs the file signed, and the rollback would be lost among new rows.
        // A file an earlier start moved aside without recording its rollback is a rollback still to accept, as the file was.
        var rollbacks = LogRollback.FindAll(database, CheckpointFile.PathIn(settings.DataDirectory));
        if (rollbacks.FirstOrDefault(r => settings.LogIntegrity.AcceptRollback != r.Checkpoint.Seq) is { } refused)
        {
            throw new LogRollbackException(refused.Refusal(settings.LogIntegrity.AcceptRollback), refused.CommandRefusal());
        }

        if (rollbacks.Count == 0 && settings.LogIntegrity.AcceptRollback is { } accepted)
        {
            startLogger.LogWarning("--{Flag} {Seq} was given, but the entry log is not older than its checkpoint file: nothing to accept. Remove it from the service's settings.",
                LogRollback.AcceptFlag, accepted);
        }

        LogSigningKey.RefuseMissing(settings.DataDirectory, database);
        MissingKeys.Refuse(settings, database);
        WarnOfTokensWithoutPerson(new ApiTokens(database, clock), startLogger);
        WarnOfMisnamedTokens(new ApiTokens(database, clock), startLogger);
        var secrets = ProvisioningKey.Load(settings.KeyPath);
        var fingerprintKeys = FingerprintKeyring.Load(settings.FingerprintKeyPath);
        var store = new SiteStore(database, clock);
        var cardholders = new CardholderStore(database).LoadAll();
        string? givenText = null;
        if (settings.SiteFile is not null)
        {
            var read = SiteFileLoader.ReadText(settings.SiteFile);
            givenText = read.Text ?? throw new SiteFileException(settings.SiteFile, read.Errors);
        }

        // A stored file is read in full only when its people and cards matter at this start: to import them (a file not
        // imported yet), or to check a given file against them (another site's declares its own). Else its layout is all
        // the start needs: its cardholders are in the store. The stored copy of a file given again is not read at all:
        // the given file is read instead, once.
        var givenSha256 = givenText is null ? null : SiteStore.Sha256Of(givenText);
        var givenAgain = store.Newest().Any(f => f.Sha256 == givenSha256);
        var unimported = store.Unimported().Select(f => f.Site).ToHashSet(StringComparer.Ordinal);
        var stored = store.LoadNewest(file =>
            file.Sha256 == givenSha256 ? SiteReading.Skip
            : givenText is not null || unimported.Contains(file.Site) ? SiteReading.Full
            : SiteReading.Layout);
        var layouts = stored.ToDictionary(s => s.Site, s => s.Layout);
        var sites = stored.Where(s => s.Definition is not null).ToDictionary(s => s.Site, s => s.Definition!);
        SiteDefinition? loaded = null;
        if (settings.SiteFile is not null)
        {
            // The stored levels, and those of stored files not imported yet: a level of another site is that site's; so
            // are the people and cards another site's file declares, and the cards of those people.
            var levels = cardholders.AccessLevels.Values.Concat(layouts.Values.SelectMany(s => s.AccessLevels));
            // And a person or card no stored file declares (an operator's, through the API) is taken over only on purpose.
            // A file given again is its site's newest stored copy: everything it declares, that copy declared already.
            var (people, cards) = givenAgain ? (null, null) : new CardholderStore(database).LastChanges();
            var result = SiteFileLoader.Parse(givenText!, settings.SiteFile, new SiteIdsInUse(sites.Values, levels, cardholders.Credentials.Values, people, cards));
            if (!result.Success)
            {
                throw new SiteFileException(settings.SiteFile, result.Errors);
            }

            loaded = result.Site!;
            var given = loaded.Topology.Sites.Keys.Single();
            sites[given] = loaded;
            layouts[given] = new SiteLayout(loaded.Topology, loaded.AccessLevels);
        }

        if (new SiteIdsInUse(layouts.Values.Select(s => s.Topology)).Conflicts() is { Count: > 0 } conflicts)
        {
            throw new StoredSitesConflictException(conflicts);
        }

        if (loaded is not null)
        {
            store.Save(loaded.Topology.Sites.Keys.Single(), settings.SiteFile!, givenText!, LoadedBy(settings.SiteFile!));
        }

        var topology = layouts.Values.Aggregate(SiteTopology.Empty, (all, site) => all.ReplaceSites(site.Topology));
        return new EdgeService(settings, clock, time, loggers, database, secrets, new LiveConfiguration(topology, cardholders), fingerprintKeys,
            rollbacks.Count == 0 ? null : (rollbacks, OsAccount.Current()))
        {
            newestSites = sites,
            givenSite = loaded?.Topology.Sites.Keys.Single(),
        };
    }

    /// <summary>
    /// Imports a site's newest file (of SHA-256 <paramref name="sha256"/>) against the site's last imported one: what that
    /// one declared and this one does not is taken away (<see cref="AdminService.ImportSiteDefinitionAsync"/>).
    /// </summary>
    private async Task ImportAsync(string fileName, string siteId, string sha256, SiteDefinition site, CancellationToken cancellationToken, string? loadedBy = null)
    {
        // A file given again is its own previous one, read already: parsed a second time only when it differs (a
        // site file of many cardholders takes seconds to parse).
        var id = new SiteId(siteId);
        var previousSha256 = StoredSites.LastImportedSha256(id);
        var previous = previousSha256 is null ? null : previousSha256 == sha256 ? site : StoredSites.LastImported(id)?.Site;
        // A person the file terminates loses what any termination takes away (Hr.Termination): if a step of it cannot be
        // written, the start is refused like a failed import, and the next one imports the file again and finishes it.
        var termination = Termination ?? throw new InvalidOperationException("No Hr.Termination given: a site file's terminations would take nothing away.");
        var imported = await termination.ImportSiteFileAsync(fileName, sha256, site, previous, () => Admin.ImportSiteDefinitionAsync(
            fileName, site.AccessLevels, site.People, site.Credentials, cancellationToken,
            new SiteFileVersion(sha256, previous) { LoadedBy = loadedBy, AdoptedPeople = site.AdoptedPeople, AdoptedCards = site.AdoptedCards }));
        if (!imported.IsOk)
        {
            throw new InvalidOperationException($"Importing the cardholders of {fileName} (site {siteId}) failed: {imported.Message} {string.Join("; ", imported.Errors)}");
        }

        logger.LogInformation("Site file {File}: {Summary}", fileName, imported.Value);
    }

    /// <summary>
    /// What a termination takes away besides the status, for the people a site file terminates (<see cref="ImportAsync"/>):
    /// set by the host before <see cref="StartAsync"/>, since it needs the visitor service the host composes.
    /// </summary>
    internal Hr.Termination? Termination { get; set; }

    /// <summary>
    /// Applies the HR events that became due while the service was down (a future-dated termination, <c>HrFeedService.ApplyDueAsync</c>),
    /// run once by <see cref="StartAsync"/> before any door is decided; the periodic job does it from then on. Set by the host.
    /// </summary>
    internal Func<Task>? ApplyDueHrEvents { get; set; }

    /// <summary>Starts the broker (embedded mode), the pipeline, the service connection and supervision.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Func<ReceivedMessage, CancellationToken, ValueTask> deliver = (message, ct) => Pipeline.EnqueueAsync(message.Topic, message.Payload, message.Retained, ct);
        if (Broker is not null && settings.Broker.ServiceLink == ServiceLinkKind.InProcess)
        {
            // Inside the broker before it listens: until the link starts (below, once the site is loaded), a device's
            // event is refused and kept by the device, never taken by a broker with nobody to decide it.
            connection = new InProcessLink(Broker, Topics, deliver);
        }

        if (Broker is not null)
        {
            await Broker.StartAsync(cancellationToken);
            logger.LogInformation("Embedded MQTT broker listening on {Host}:{Port}", EmbeddedBroker.Host, Broker.Port);
        }

        gcPauses = Pipeline.Trace is { } trace ? new GcPauseTrace(trace, time) : null;
        Pipeline.Start(stopping.Token);
        loops.Add(Task.Run(() => Fingerprints.Templates.RunAsync(stopping.Token), CancellationToken.None));
        // A new layout (zones, doors, readers, schedules) is an admin change like any other: logged with who and when.
        // Create stored the file; its row is written now that the pipeline runs, for each site whose newest file has
        // none yet, so a start that fails in between (a port taken) leaves the row to the next start, never loses it.
        foreach (var file in StoredSites.Unlogged())
        {
            var row = await Pipeline.AppendAsync(new LogEntry
            {
                At = Clock.GetCurrentInstant(),
                Kind = LogKinds.Admin,
                SiteId = file.Site,
                Reason = SiteActions.Load,
                Actor = file.LoadedBy,
                Detail = System.Text.Json.JsonSerializer.Serialize(new { file = file.FileName, sha256 = file.Sha256 }),
            }, cancellationToken);
            StoredSites.MarkLogged(file, row.Seq);
        }

        // People, credentials and access levels declared in the site file, upserted through the audited admin path. Like
        // the row above, for each site whose newest file is not imported yet: the one given now, or one a start left
        // unimported (it failed before the import, or during it: the import applies only what differs, so it goes on).
        // A file given again with --site (already stored and imported) is imported again, as it always was: a name or a
        // level the file declares goes back to what it says, but what an operator ended or suspended stays so. Each import
        // first takes away what the site's previously imported file declared and this one does not (a new file only: a file
        // given again is its own previous one). Neither writes anything when nothing differs.
        var unimported = StoredSites.Unimported();
        foreach (var file in unimported)
        {
            await ImportAsync(file.FileName, file.Site, file.Sha256, newestSites[new SiteId(file.Site)], cancellationToken, file.LoadedBy);
            try
            {
                StoredSites.MarkImported(file);
            }
            catch (SqliteException ex)
            {
                // Imported, but not noted: the next start imports it again, which changes nothing.
                logger.LogWarning("Site file {File}: imported, but that could not be noted ({Error}); the next start imports it again.", file.FileName, ex.Message);
            }
        }

        if (givenSite is { } given && settings.SiteFile is { } givenFile && !unimported.Any(u => u.Site == given.Value))
        {
            // Stored and imported already: the site's last imported file is this one.
            await ImportAsync(Path.GetFileName(givenFile), given.Value, StoredSites.LastImportedSha256(given)!, newestSites[given], cancellationToken);
        }

        // Terminations a crash or a failed step left half done (an operator's answered 503, say) are finished now, the
        // site files' own included, before any door is decided: a person terminated keeps nothing a reactivation would
        // bring back. A step that cannot be written does not stop the start (Hr.LeaverSweep says why); the next one tries again.
        var sweep = Termination ?? throw new InvalidOperationException("No Hr.Termination given: a half-done termination would never be finished.");
        await new Hr.LeaverSweep(Database, sweep, new ApiTokens(Database, Clock), Configuration, Clock, Loggers.CreateLogger<Hr.LeaverSweep>()).RunAsync();

        // A termination dated to take effect while the service was down is due now, not at the periodic job's first round
        // (a minute on): until then the leaver's card would be granted. One that cannot be applied stays scheduled for that job.
        if (ApplyDueHrEvents is { } applyDue)
        {
            await applyDue();
        }

        var options = settings.Broker with { Host = BrokerHost, Port = BrokerPort };
        connection ??= new ServiceConnection(options, Secrets, time, deliver);
        var where = connection is InProcessLink ? "inside the embedded MQTT broker" : $"to the MQTT broker at {options.Host}:{options.Port}";
        connection.Connected += () => logger.LogInformation("Connected {Where}", where);

        // A fire release outlives the process: whenever the connection comes up (first start, restart after a crash,
        // broker back), every released door gets its retained release again. Nothing ever relocks from here.
        connection.Connected += () => _ = ReassertFireReleaseAsync();
        connection.Disconnected += why =>
        {
            if (stopping.IsCancellationRequested)
            {
                logger.LogInformation("Disconnected from the MQTT broker (stopping).");
            }
            else
            {
                logger.LogWarning("Lost the MQTT broker: {Why}", why);
            }
        };
        connection.ConnectFailed += why => logger.LogWarning("Could not connect to the MQTT broker: {Why}", why);
        loops.Add(Task.Run(() => RecordSecurityEventsAsync(stopping.Token), CancellationToken.None));
        AddPeriodic("security-event-counts", TimeSpan.FromSeconds(10), RecordSuppressedSecurityEventsAsync);

        // Every second, one after the other (a RESTART checkpoint waits for the log's readers, the index among them,
        // and holds the swipes' commits off meanwhile, for WalCheckpoints.RestartWait at most):
        // - the WAL is moved into the database file, so that no swipe's commit pays for a checkpoint (the writer's
        //   automatic checkpoint is off; see EntryLogWriter and WalCheckpoints);
        // - the rows of the last second go into the query index, in one transaction of the index file (LogIndex).
        // An index built in the background (left to this job by the start, or its file deleted or damaged while the
        // service runs) catches up in full rounds, one after the other, with a WAL checkpoint between them (MaintainLog).
        // Both on a thread of the lowest priority (LowPriorityWorker): on a large log the index round is the heaviest
        // background work the service does.
        AddPeriodic("log-maintenance", TimeSpan.FromSeconds(1), async ct =>
        {
            if (settings.BeforeLogMaintenance is { } gate)
            {
                await gate(ct);
            }

            await maintenance.RunAsync(() => MaintainLog(ct));
        });
        AddPeriodic("supervision", settings.SupervisionInterval, SuperviseOnceAsync);
        if (OutageJournalState == OutageJournalState.Unavailable)
        {
            AddPeriodic("outage-journal", OutageJournalRetryInterval, RetryOutageJournalAsync);
        }

        // Quiet periods still get a signed checkpoint (every N rows is the writer's own rule); see docs/log-integrity.md.
        AddPeriodic("log-checkpoint", TimeSpan.FromSeconds(1), _ =>
        {
            Writer.CheckpointIfDue();
            if (Writer.UnfiledCheckpoints > 0)
            {
                logger.LogError("{Count} entry-log checkpoint(s) could not be written to the checkpoint file; retrying.", Writer.UnfiledCheckpoints);
            }

            return Task.CompletedTask;
        });

        // The whole log verified every VerifyInterval, the first time shortly after the start: a row changed underneath
        // the service raises log_integrity without waiting for an auditor's verify (docs/log-integrity.md, section 3).
        if (LogWatch.State.On)
        {
            AddPeriodic("log-verify", settings.LogIntegrity.VerifyInterval, LogWatch.VerifyOnceAsync, LogWatch.FirstAfter(settings.LogIntegrity));
        }

        await connection.StartAsync(cancellationToken);
    }

    /// <summary>
    /// One round of the <c>log-maintenance</c> job, on the low-priority thread: a WAL checkpoint, then the rows of the last
    /// second into the index; an index being built (or rebuilt) catches up in full rounds, one after the other, with a
    /// checkpoint between them, and says when it is done.
    /// </summary>
    private void MaintainLog(CancellationToken cancellationToken)
    {
        LogIndexRound round;
        do
        {
            var started = time.GetTimestamp();
            WalCheckpoints.Run(Database);
            var checkpointed = time.GetTimestamp();
            round = Index.CatchUp();
            Interlocked.Exchange(ref indexWatermark, round.Watermark);
            Pipeline.Trace?.Span("wal-checkpoint", started, checkpointed);
            Pipeline.Trace?.Span("index-round", checkpointed, time.GetTimestamp());
            if (round.Rebuilt && indexBuild is not { Rounds: 0 })
            {
                // Not the rebuild the start left to this job, which its first round reports: the file was deleted or
                // damaged while the service ran, or again during the build.
                BuildIndexInBackground(round.Why ?? "it had to start over");
            }

            if (indexBuild is { } build)
            {
                indexBuild = build with { Rounds = build.Rounds + 1, Copied = build.Copied + round.Copied };
                if (round.Copied < LogIndex.DefaultBatchRows)
                {
                    logger.LogInformation("Log index {Path} is built: {Rows} rows copied in the background, up to row {Watermark}; queries use it again.",
                        Index.Path, indexBuild.Copied, round.Watermark);
                    indexBuild = null;
                    indexBuilt.TrySetResult();
                }
            }
        }
        while (round.Copied == LogIndex.DefaultBatchRows && !cancellationToken.IsCancellationRequested);
    }

    /// <summary>Leaves the index's build to the <c>log-maintenance</c> job (<see cref="MaintainLog"/>), and says so.</summary>
    private void BuildIndexInBackground(string why)
    {
        indexBuild = new IndexBuild(0, 0);
        logger.LogWarning("Log index {Path} is being rebuilt in the background ({Why}); queries are slower until it is done.", Index.Path, why);
    }

    /// <summary>An index build left to the <c>log-maintenance</c> job: its rounds and the rows they copied so far.</summary>
    private sealed record IndexBuild(int Rounds, long Copied);

    /// <summary>What the service's own verification of the entry log last found (the health check <c>log-integrity</c>).</summary>
    internal LogWatchState LogIntegrity => LogWatch.State;

    /// <summary>Verifies the entry log now, as the periodic job <c>log-verify</c> does (tests; after <see cref="StartAsync"/>).</summary>
    internal Task VerifyLogOnceAsync() =>
        LogWatch.VerifyOnceAsync(stopping.Token);

    private async Task ReassertFireReleaseAsync()
    {
        try
        {
            await Pipeline.ReassertFireReleaseAsync(stopping.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            logger.LogDebug("Not re-sending the fire release: the service is stopping.");
        }
        catch (PipelineItemFailedException ex)
        {
            logger.LogError(ex, "The fire release could not be sent again to the released doors; it is sent again at the next connection to the broker.");
        }
    }

    /// <summary>
    /// Adds a supervision check that lives outside the pipeline (it reads the database, e.g. overdue visitor badges).
    /// It runs after each supervision tick; the alarms it returns are logged and published like the pipeline's own.
    /// </summary>
    public void AddSupervision(Func<CancellationToken, Task<IReadOnlyList<Supervision.Alarm>>> check) => supervisors.Add(check);

    /// <summary>
    /// Runs a periodic job (supervision, WAL checkpoints, retention purges) every <paramref name="interval"/> while the
    /// service runs, the first time one interval after start (or <paramref name="firstAfter"/> it, when given). A failing
    /// round is logged and retried at the next one.
    /// </summary>
    public void AddPeriodic(string name, TimeSpan interval, Func<CancellationToken, Task> job, TimeSpan? firstAfter = null) =>
        loops.Add(Task.Run(async () =>
        {
            async Task RunAsync()
            {
                try
                {
                    var started = time.GetTimestamp();
                    await job(stopping.Token);
                    Pipeline.Trace?.Span("job:" + name, started, time.GetTimestamp());
                }
                catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or EntryLogUnavailableException or PipelineItemFailedException
                    or InvalidOperationException or IOException or UnauthorizedAccessException)
                {
                    logger.LogError(ex, "Periodic job {Name} failed; it runs again in {Interval}.", name, interval);
                }
            }

            try
            {
                if (firstAfter is { } first)
                {
                    await Task.Delay(first, time, stopping.Token);
                    await RunAsync();
                }

                using var timer = new PeriodicTimer(interval, time);
                while (await timer.WaitForNextTickAsync(stopping.Token))
                {
                    await RunAsync();
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                logger.LogDebug("Periodic job {Name} stopped.", name);
            }
        }, CancellationToken.None));

    /// <summary>How often an outage journal that could not be made is tried again while the service runs.</summary>
    public static readonly TimeSpan OutageJournalRetryInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Makes the outage journal that could not be made at start (<see cref="OutageJournalState.Unavailable"/>) and hands
    /// it to the pipeline, which keeps an outage's rows in it from then on: run by the periodic job
    /// <c>outage-journal</c>, every <see cref="OutageJournalRetryInterval"/> until it succeeds, which the log says once.
    /// Its space is written whole (16 MiB by default): on the low-priority thread of the log's maintenance, never on the
    /// pipeline's. A failure is only a debug line, the start's error said it and the health check says it still.
    /// </summary>
    public async Task RetryOutageJournalAsync(CancellationToken cancellationToken = default)
    {
        await journalRetry.WaitAsync(cancellationToken);
        try
        {
            if (OutageJournalState != OutageJournalState.Unavailable)
            {
                return;
            }

            var path = Path.Combine(settings.DataDirectory, OutageJournal.FileName);
            OutageJournal? made = null;
            try
            {
                await maintenance.RunAsync(() => made = MakeOutageJournal(path, journalKey, settings.Pipeline.OutageJournalBytes, logger));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                logger.LogDebug(ex, "The outage journal {Path} still cannot be made; tried again in {Interval}.", path, OutageJournalRetryInterval);
                return;
            }

            var adopted = false;
            try
            {
                adopted = await Pipeline.AdoptOutageJournalAsync(made!, cancellationToken);
            }
            finally
            {
                if (!adopted)
                {
                    made!.Dispose();
                }
            }

            if (!adopted)
            {
                // A journal the start could not open, holding the rows of an outage the last run did not live to write:
                // left as it is for the next start (said once; tried again all the same, as nothing else would change it).
                if (!journalHeldEarlierOutage)
                {
                    journalHeldEarlierOutage = true;
                    logger.LogWarning("The outage journal {Path} can be opened now, but holds the rows of an entry-log outage of an earlier run, which only a start takes back: restart the service.", path);
                }

                return;
            }

            outageJournalState = OutageJournalState.Open;
            logger.LogInformation("The outage journal {Path} is made now ({Bytes} bytes allocated up front): the rows of an entry-log outage are kept on disk again.",
                path, settings.Pipeline.OutageJournalBytes);
        }
        finally
        {
            journalRetry.Release();
        }
    }

    /// <summary>One round of supervision at the clock's current time: doors, readers, escorts, then the added checks.</summary>
    public async Task SuperviseOnceAsync(CancellationToken cancellationToken = default)
    {
        await Pipeline.TickAsync(cancellationToken);
        foreach (var check in supervisors)
        {
            await Pipeline.RaiseAsync(await check(cancellationToken), cancellationToken);
        }
    }

    /// <summary>
    /// The data folder holds the entry log (card numbers, person ids), the outage journal and the keys: a new one is
    /// created for the service's account alone (0700). One that other accounts can enter is left as it is (an operator
    /// may have reasons) and named in a warning at every start, as are files in it that others may read (a log made by a
    /// version that created it 0644): a folder of mode 0700 hides them, but a copy that keeps modes (a backup) does not.
    /// </summary>
    private static void PrepareDataFolder(string path, ILogger logger)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(path))
        {
            OwnerOnly.CreateFolder(path);
            return;
        }

        const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(path);
        if ((mode & Others) != 0)
        {
            logger.LogWarning("The data folder {Path} is open to other accounts (mode {Mode}): it holds the entry log, with card numbers and person ids, and the keys. Make it the service account's alone: chmod 700 {Path}",
                path, Convert.ToString((int)mode, 8), path);
        }

        // The public key is for auditors; everything else in the folder is private.
        var readable = new List<string>();
        foreach (var file in Directory.EnumerateFiles(path))
        {
            if (!file.EndsWith(".pub.pem", StringComparison.Ordinal) && (File.GetUnixFileMode(file) & Others) != 0)
            {
                readable.Add(file);
            }
        }

        if (readable.Count > 0)
        {
            readable.Sort(StringComparer.Ordinal);
            logger.LogWarning("Files in the data folder {Path} are readable by other accounts: {Files}. They hold card numbers, person ids or keys, and a copy that keeps their mode (a backup) keeps them readable. Make them the service account's alone: chmod 600 {Chmod}",
                path, string.Join(", ", readable.Select(Path.GetFileName)), string.Join(" ", readable));
        }
    }

    /// <summary>
    /// Tokens that name no person (stored by a version that asked a person only of hosts, approvers and enrollment
    /// operators) would outlive their holder: a termination revokes the tokens that name the leaver, and cannot find
    /// these. So they are refused (<see cref="TokenRefusals.WithoutPerson"/>), and named (operator and role,
    /// never the token) at every start until they are revoked, so that an operator locked out at an upgrade learns why.
    /// </summary>
    private static void WarnOfTokensWithoutPerson(ApiTokens tokens, ILogger logger)
    {
        var without = tokens.WithoutPerson();
        if (without.Count > 0)
        {
            logger.LogWarning("Operator tokens that name no person, so that no termination would revoke them, are refused: {Tokens}. Issue new ones with --person ID, then revoke these (token list shows their ids; token revoke --id ID).",
                string.Join(", ", without.Select(t => $"{t.Operator} ({t.Role})")));
        }
    }

    /// <summary>
    /// Tokens stored before <c>token create</c> refused an operator name that does not say one person: their rows read as
    /// the service's own (<c>hr-feed</c>, <c>site-file:...</c>) or as another person's. They still work (refusing them
    /// could lock out the only administrator); they are named (operator and people, never the token) at every start until
    /// they are revoked.
    /// </summary>
    private static void WarnOfMisnamedTokens(ApiTokens tokens, ILogger logger)
    {
        var misnamed = tokens.Misnamed();
        if (misnamed.Count > 0)
        {
            logger.LogWarning("Operator tokens whose name does not say one person, so that the entry log's rows by it read as the service's own or as another person's: {Tokens}. Issue each person a token under a name of their own, then revoke these (token list shows their ids; token revoke --id ID).",
                string.Join(", ", misnamed.Select(m => $"{m.Operator} ({string.Join(", ", m.People)})")));
        }
    }

    /// <summary>
    /// The outage journal of the data folder, created on the first start (its whole size allocated). Without it the
    /// service still runs (decisions do not depend on it): the rows of a log outage are then kept in memory only, which
    /// the log says once and the health check <c>outage-journal</c> for as long as it lasts (tried again every
    /// <see cref="OutageJournalRetryInterval"/>).
    /// </summary>
    private static (OutageJournal? Journal, OutageJournalState State) OpenOutageJournal(PipelineOptions options, string dataDirectory, byte[] key, ILogger logger)
    {
        if (options.OutageJournalBytes == 0)
        {
            return (null, OutageJournalState.Off);
        }

        var path = Path.Combine(dataDirectory, OutageJournal.FileName);
        try
        {
            return (MakeOutageJournal(path, key, options.OutageJournalBytes, logger), OutageJournalState.Open);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogError(ex, "The outage journal {Path} could not be opened or created ({Bytes} bytes allocated up front): during an entry-log outage, the rows kept to be logged late are in memory only, and lost if the service stops. It is tried again every minute while the service runs: make room for it.",
                path, options.OutageJournalBytes);
            return (null, OutageJournalState.Unavailable);
        }
    }

    /// <summary>Opens or creates the outage journal (<see cref="OutageJournal.Open"/>); throws what it throws.</summary>
    private static OutageJournal MakeOutageJournal(string path, byte[] key, long size, ILogger logger)
    {
        var journal = OutageJournal.Open(path, key, size);
        if (journal.SetAside is { } aside)
        {
            logger.LogError("The outage journal {Path} began with a record that does not authenticate (torn by a crash during its first write, or altered): nothing was taken back from it. It is kept as {Aside}; a new journal is in its place.", path, aside);
        }

        return journal;
    }

    /// <summary>Who a site file load is recorded as: the file, and the operating-system account that started the service.</summary>
    private static string LoadedBy(string siteFile) => $"site-file:{Path.GetFileName(siteFile)} ({Environment.UserName})";

    /// <summary>
    /// What a constructor that throws has made so far, disposed in reverse order of making. Nothing was started yet
    /// (<see cref="StartAsync"/> starts the pipeline and the broker), so each is disposed at once, here.
    /// </summary>
    private void DisposeUnstarted(OutageJournal? journal)
    {
        // The broker and the pipeline are IAsyncDisposable for what they do once started; unstarted, their disposal is done when it returns.
        Broker?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (Pipeline is not null)
        {
            Pipeline.DisposeAsync().AsTask().GetAwaiter().GetResult(); // the journal with it
        }
        else
        {
            journal?.Dispose();
        }

        Index?.Dispose();
        LogWatch?.Dispose();
        Writer?.Dispose();
        journalRetry.Dispose();
        maintenance.Dispose();
        stopping.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }

        await Task.WhenAll(loops).ConfigureAwait(false);
        LogWatch.Dispose();
        maintenance.Dispose();
        journalRetry.Dispose();
        Index.Dispose();
        gcPauses?.Dispose();
        await Pipeline.DisposeAsync();
        if (Broker is not null)
        {
            await Broker.DisposeAsync();
        }

        try
        {
            // A clean stop leaves the head signed: a tail cut off while the service is down is then detected too.
            Writer.Checkpoint();
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            logger.LogError(ex, "The final entry-log checkpoint could not be written.");
        }

        Writer.Dispose();
        stopping.Dispose();

        // As a failed Create does: the pool would keep connections on the file (its WAL, its locks) for as long as the
        // process lives, so that a host that starts again in it, or an operator who moves the file, finds it held.
        Database.CloseIdleConnections();
    }

    /// <summary>
    /// Writes each refusal the broker reports to the entry log (kind <c>security</c>), within the limits of
    /// <see cref="SecurityEventBudget"/>: a flood beyond them is written as counts when its window has passed, here when
    /// refusals go on, else by the periodic job <c>security-event-counts</c>.
    /// </summary>
    private async Task RecordSecurityEventsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in securityEvents.Reader.ReadAllAsync(cancellationToken))
            {
                await RecordSuppressedSecurityEventsAsync(e.At, cancellationToken);
                if (securityBudget.Admit(e))
                {
                    logger.LogWarning("Broker refused {What} from client '{Client}'{From}: {Detail}", e.What, SecurityEvent.Clean(e.ClientId),
                        e.From is null ? "" : " at " + e.From, e.Detail);
                    await AppendSecurityRowAsync(e.At, e.What, e.Username,
                        System.Text.Json.JsonSerializer.Serialize(new { clientId = SecurityEvent.Clean(e.ClientId), from = e.From, detail = e.Detail }), cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug("Security event recorder stopped.");
        }
    }

    private Task RecordSuppressedSecurityEventsAsync(CancellationToken cancellationToken) =>
        RecordSuppressedSecurityEventsAsync(Clock.GetCurrentInstant(), cancellationToken);

    /// <summary>One row per kind and source of the refusals a window that has passed by <paramref name="now"/> counted without rows.</summary>
    private async Task RecordSuppressedSecurityEventsAsync(Instant now, CancellationToken cancellationToken)
    {
        foreach (var s in securityBudget.Close(now))
        {
            logger.LogWarning("Broker refused {Count} more {What} from '{Source}' between {First} and {Last} ({Dropped} of them dropped unread); written as one row.",
                s.Count, s.What, s.Source, s.First, s.Last, s.Dropped);
            await AppendSecurityRowAsync(s.Last, SecurityEvent.Suppressed, s.Source,
                System.Text.Json.JsonSerializer.Serialize(new { what = s.What, source = s.Source, count = s.Count, dropped = s.Dropped, first = s.First.ToString(), last = s.Last.ToString() }),
                cancellationToken);
        }
    }

    private async Task AppendSecurityRowAsync(Instant at, string reason, string actor, string detail, CancellationToken cancellationToken)
    {
        try
        {
            await Pipeline.AppendAsync(new LogEntry { At = at, Kind = LogKinds.Security, Reason = reason, Actor = SecurityEvent.Clean(actor), Detail = detail }, cancellationToken);
        }
        catch (Exception ex) when (ex is EntryLogUnavailableException or PipelineItemFailedException)
        {
            logger.LogError(ex, "A security event could not be logged.");
        }
    }

    /// <summary>Turns a refused publish (not connected) into the exception the pipeline counts and logs.</summary>
    private sealed class ConnectionPublisher(EdgeService edge) : IMessagePublisher
    {
        public async Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
        {
            var connection = edge.connection ?? throw new InvalidOperationException("The service connection is not started.");
            var outcome = await connection.PublishAsync(topic, payload, retain, cancellationToken);
            if (!outcome.Accepted)
            {
                throw new IOException(outcome.Failure);
            }
        }
    }
}

/// <summary>
/// The stored site files share zone, door or device ids between sites (stored by a version that did not check it), so
/// they cannot be merged into one layout: which site would a reader of that id belong to? The service does not start
/// on them and changes nothing; a corrected file for one of the sites, given with <c>--site</c>, replaces that site's.
/// </summary>
public sealed class StoredSitesConflictException(IReadOnlyList<SiteIdConflict> conflicts)
    : Exception($"The stored site files use {conflicts.Count} id(s) at more than one site (stored by an earlier version, which did not check this), "
        + $"so the service cannot tell which site they belong to:{Environment.NewLine}"
        + string.Join(Environment.NewLine, conflicts.Select(c => "  " + c)) + Environment.NewLine
        + "Nothing was changed. Rename these ids in the site file of one of the sites named (zone, door and device ids are unique "
        + "across all sites; a device's id is its MQTT username), then start the service once with --site FILE: that file "
        + "replaces its site's stored one and is checked against the others.")
{
    public IReadOnlyList<SiteIdConflict> Conflicts { get; } = conflicts;
}

/// <summary>A site file that does not load; carries every error found.</summary>
/// <remarks>An error quotes the file's values, shown through <see cref="TerminalText"/>: one line each, printed as they are at start.</remarks>
public sealed class SiteFileException(string file, IReadOnlyList<SiteFileError> errors)
    : Exception($"Site file {TerminalText.Show(file)} has {errors.Count} error(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors.Select(e => TerminalText.Show(e.ToString())))}")
{
    public IReadOnlyList<SiteFileError> Errors { get; } = errors;
}
