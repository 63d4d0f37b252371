using System.Collections.Immutable;
using System.Threading.Channels;
using AccessControl.Sites;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>
/// The event pipeline's view of the fingerprint store (<see cref="IFingerprintTemplates"/>): every active template,
/// still encrypted, in memory, decrypted only when a verification needs it; and a background writer for "matched" notes.
/// </summary>
/// <remarks>
/// <para>The encrypted templates and the keyring form one immutable snapshot swapped atomically by
/// <see cref="FingerprintService"/> (the only writer), so a lookup on the pipeline's thread takes no lock and does no
/// I/O. A template that does not decrypt (key missing from the key file, tampered or moved ciphertext) makes the
/// person's lookup empty: they are treated as not enrolled (fail closed), and an error naming the template and key
/// ids, never any bytes, is logged.</para>
/// <para>A template being revoked is <see cref="Withhold">withheld</see> from before the revocation's audit row until it is
/// in force or withdrawn: it is no longer sent to readers, and a finger matched on it opens nothing
/// (<see cref="MayMatch"/>), so a revocation takes effect no later than its audit row, as an admin change does.</para>
/// <para><see cref="Matched"/> only queues; <see cref="RunAsync"/> writes <c>last_matched_at</c> in batches.</para>
/// </remarks>
public sealed class FingerprintTemplates : IFingerprintTemplates
{
    private readonly FingerprintStore store;
    private readonly ILogger logger;
    private readonly Channel<(string TemplateId, Instant At)> matches =
        Channel.CreateBounded<(string, Instant)>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    private volatile State state;

    public FingerprintTemplates(FingerprintStore store, FingerprintKeyring keyring, ILogger<FingerprintTemplates> logger)
    {
        this.store = store;
        this.logger = logger;
        state = new State(keyring, ImmutableDictionary<PersonId, ImmutableArray<EncryptedTemplate>>.Empty, ImmutableHashSet.Create<string>(StringComparer.Ordinal));
    }

    /// <summary>Raised on the writer's thread after a batch of matches was written (how many). For tests and metrics.</summary>
    public event Action<int>? MatchesWritten;

    /// <summary>The keys in use.</summary>
    public FingerprintKeyring Keyring => state.Keyring;

    /// <summary>The people with at least one active template (what <c>Cardholders.FingerprintEnrolled</c> holds).</summary>
    public ImmutableHashSet<PersonId> Enrolled => [.. state.ByPerson.Keys];

    /// <summary>Loads every active template from the store (start-up). Returns the people enrolled.</summary>
    public ImmutableHashSet<PersonId> Load()
    {
        var byPerson = store.LoadActive()
            .GroupBy(t => t.Record.Person)
            .ToImmutableDictionary(g => g.Key, g => g.ToImmutableArray());
        state = state with { ByPerson = byPerson };
        return Enrolled;
    }

    /// <inheritdoc />
    public IReadOnlyList<FingerprintTemplate> ActiveTemplates(PersonId person)
    {
        var current = state;
        if (!current.ByPerson.TryGetValue(person, out var encrypted))
        {
            return [];
        }

        var templates = new List<FingerprintTemplate>(encrypted.Length);
        foreach (var template in encrypted)
        {
            var record = template.Record;
            if (!current.Revoking.IsEmpty && current.Revoking.Contains(record.TemplateId))
            {
                continue;
            }

            var plaintext = current.Keyring.TryOpen(record.Binding, template.Sealed);
            if (plaintext is null)
            {
                logger.LogError(
                    "Fingerprint template {TemplateId} of person {Person} (key {KeyId}) cannot be decrypted: the key is not in the key file, or the ciphertext was changed or moved. The person is treated as not enrolled.",
                    record.TemplateId, person.Value, template.Sealed.KeyId);
                return [];
            }

            templates.Add(new FingerprintTemplate(record.TemplateId, record.Finger, record.Format, plaintext));
        }

        return templates;
    }

    /// <inheritdoc />
    public bool MayMatch(PersonId person, string templateId, out bool revoking)
    {
        var current = state;
        revoking = !current.Revoking.IsEmpty && current.Revoking.Contains(templateId);
        if (revoking || !current.ByPerson.TryGetValue(person, out var encrypted))
        {
            return false;
        }

        foreach (var template in encrypted)
        {
            if (string.Equals(template.Record.TemplateId, templateId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public void Matched(string templateId, Instant at)
    {
        if (!string.IsNullOrEmpty(templateId))
        {
            matches.Writer.TryWrite((templateId, at));
        }
    }

    /// <summary>The encrypted templates of a person (the service's view before a change).</summary>
    internal ImmutableArray<EncryptedTemplate> Of(PersonId person) => state.ByPerson.TryGetValue(person, out var list) ? list : [];

    /// <summary>Every encrypted template (rekey).</summary>
    internal IEnumerable<EncryptedTemplate> All() => state.ByPerson.Values.SelectMany(t => t);

    /// <summary>Replaces one person's active templates (after the store was written), in the order given (enrollment order).</summary>
    internal void Set(PersonId person, IEnumerable<EncryptedTemplate> templates)
    {
        var list = templates.ToImmutableArray();
        var current = state;
        state = current with { ByPerson = list.IsEmpty ? current.ByPerson.Remove(person) : current.ByPerson.SetItem(person, list) };
    }

    /// <summary>Replaces the keyring and every template (after a rekey was written).</summary>
    internal void Replace(FingerprintKeyring keyring, IEnumerable<EncryptedTemplate> templates) =>
        state = state with { Keyring = keyring, ByPerson = templates.GroupBy(t => t.Record.Person).ToImmutableDictionary(g => g.Key, g => g.ToImmutableArray()) };

    /// <summary>
    /// Withholds templates whose revocation starts now, before its audit row (see the remarks). Dispose once the
    /// revocation is in force (after <see cref="Set"/>) or withdrawn (not recorded): they are then gone, or back.
    /// </summary>
    internal IDisposable Withhold(IReadOnlyCollection<string> templateIds)
    {
        var current = state;
        state = current with { Revoking = current.Revoking.Union(templateIds) };
        return new Withheld(this, templateIds);
    }

    /// <summary>
    /// Writes queued matches until <paramref name="cancellationToken"/> is cancelled, then writes what is left.
    /// A failed write is logged and its matches are dropped (they only feed the "unused for 90 days" report).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await matches.Reader.WaitToReadAsync(cancellationToken))
            {
                WriteQueued();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            WriteQueued();
        }
    }

    private void WriteQueued()
    {
        var batch = new Dictionary<string, Instant>(StringComparer.Ordinal);
        while (matches.Reader.TryRead(out var match))
        {
            batch[match.TemplateId] = batch.TryGetValue(match.TemplateId, out var seen) && seen > match.At ? seen : match.At;
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            store.RecordMatches([.. batch.Select(m => (m.Key, m.Value))]);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            logger.LogError(ex, "The last-matched time of {Count} fingerprint template(s) could not be written.", batch.Count);
            return;
        }

        MatchesWritten?.Invoke(batch.Count);
    }

    /// <param name="Revoking">Template ids withheld while their revocation is in flight; empty when none is.</param>
    private sealed record State(FingerprintKeyring Keyring, ImmutableDictionary<PersonId, ImmutableArray<EncryptedTemplate>> ByPerson, ImmutableHashSet<string> Revoking);

    private sealed class Withheld(FingerprintTemplates owner, IReadOnlyCollection<string> templateIds) : IDisposable
    {
        private bool disposed;

        public void Dispose()
        {
            if (!disposed)
            {
                disposed = true;
                var current = owner.state;
                owner.state = current with { Revoking = current.Revoking.Except(templateIds) };
            }
        }
    }
}
