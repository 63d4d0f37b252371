using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Tests.EndToEnd;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Admin;

/// <summary>
/// An admin change is in force once its audit row is durable and its tables written; in between it is in flight, and a
/// swipe is granted only if it would be both with and without it; one at a time, or the second could hide the first.
/// p-mkoch (card 04A1B2C3D4E5F6) at the lobby.
/// </summary>
public class ChangesInFlightTests
{
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    public async Task ALeaversCard_QueuedBehindTheTerminationsAuditRow_IsDenied()
    {
        await using var edge = await EdgeHarness.StartAsync();
        await using (var held = await HeldPipeline.HoldAsync(edge))
        {
            var terminate = edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("hr-feed"), "p-mkoch", "terminated");
            await held.WhenQueuedAsync(1);
            await SwipeAsync(edge, "leaver-1");
            held.Release();
            Assert.True((await terminate.WaitAsync(EdgeHarness.Timeout)).IsOk);
        }

        var access = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == "leaver-1");
        var termination = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 1000 }).Single(r => r.Reason == "person.terminate");
        Assert.True(termination.Seq < access.Seq, "the swipe is logged after the termination");
        Assert.Equal(("deny", "credential_revoked"), (access.Decision, access.Reason));
        Assert.Contains("\"changeInFlight\":\"true\"", access.Detail, StringComparison.Ordinal);
        Assert.Null(edge.Edge.Configuration.Current.Pending);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task ACardReinstated_IsNotLetInBeforeTheReinstatementIsInForce()
    {
        await using var edge = await EdgeHarness.StartAsync();
        Assert.True((await edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("admin"), "p-mkoch", "suspended")).IsOk);
        await using (var held = await HeldPipeline.HoldAsync(edge))
        {
            var reinstate = edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("admin"), "p-mkoch", "active");
            await held.WhenQueuedAsync(1);
            await SwipeAsync(edge, "early-1");
            held.Release();
            Assert.True((await reinstate.WaitAsync(EdgeHarness.Timeout)).IsOk);
        }

        var early = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == "early-1");
        await SwipeAsync(edge, "after-1");
        var after = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == "after-1");

        Assert.Equal("deny", early.Decision);
        Assert.Equal("grant", after.Decision);
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task AChangeWhoseAuditRowCannotBeWritten_IsWithdrawn_AndDecisionsStayAsTheyWere()
    {
        await using var edge = await EdgeHarness.StartAsync();
        edge.Edge.Writer.SimulateWriteFailure(true);
        var refused = await edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("hr-feed"), "p-mkoch", "terminated").WaitAsync(EdgeHarness.Timeout);
        edge.Edge.Writer.SimulateWriteFailure(false);

        await SwipeAsync(edge, "still-1");
        var swipe = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == "still-1");

        Assert.False(refused.IsOk);
        Assert.Null(edge.Edge.Configuration.Current.Pending);
        Assert.Equal(("grant", "granted"), (swipe.Decision, swipe.Reason));
    }

    /// <summary>A takes access away, B (asked for from the same before) gives it back: folded, B(A(now)) hides A.</summary>
    [Theory]
    [Trait("control", "NIST-PS-4")]
    [InlineData("person suspended, then active")]
    [InlineData("credential revoked, then upserted")]
    public async Task ASwipeWhileARemovalAndAGrantOfTheSamePersonAreBothAsked_IsDenied(string changes)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var live = edge.Edge.Configuration;
        var person = live.Cardholders.People[new PersonId("p-mkoch")];
        var card = live.Cardholders.Credentials[Operator];
        Func<Cardholders, Cardholders> remove = changes.StartsWith("person", StringComparison.Ordinal)
            ? c => c.With(person with { Status = PersonStatus.Suspended })
            : c => c.With(card with { Status = CredentialStatus.Revoked });
        Func<Cardholders, Cardholders> grant = changes.StartsWith("person", StringComparison.Ordinal) ? c => c.With(person) : c => c.With(card);

        var removal = await InAnotherFlowAsync(() => live.BeginChangeAsync(remove));
        var regrant = live.BeginChangeAsync(grant);
        await SwipeAsync(edge, "overlap-1");
        var during = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == "overlap-1");
        var grantWaited = !regrant.IsCompleted;
        removal.Dispose();
        using (await regrant.WaitAsync(EdgeHarness.Timeout))
        {
            await SwipeAsync(edge, "overlap-2");
        }

        var afterWithdrawn = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == "overlap-2");

        Assert.Equal("deny", during.Decision);
        Assert.Contains("\"changeInFlight\":\"true\"", during.Detail, StringComparison.Ordinal);
        Assert.True(grantWaited, "the grant waits until the removal is in force or withdrawn");
        Assert.Equal("grant", afterWithdrawn.Decision);
        Assert.Null(live.Current.Pending);
    }

    [Fact]
    public async Task ASecondChange_IsInFlightOnlyOnceTheFirstIsInForce_AndThenAppliesOverIt()
    {
        var live = new LiveConfiguration(SiteTopology.Empty, Cardholders.Empty);
        var alice = new Person(new PersonId("p-alice"), "Alice", PersonKind.Employee, PersonStatus.Active, []);

        var first = await InAnotherFlowAsync(() => live.BeginChangeAsync(c => c.With(alice with { Status = PersonStatus.Suspended })));
        var second = live.BeginChangeAsync(c => c.With(alice));
        var pendingWhileFirst = live.Current.Pending!.People[alice.Id].Status;
        var secondWaited = !second.IsCompleted;
        first.Complete();
        first.Dispose();
        using var begun = await second.WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(PersonStatus.Suspended, pendingWhileFirst);
        Assert.True(secondWaited);
        Assert.Equal(PersonStatus.Suspended, live.Cardholders.People[alice.Id].Status);
        Assert.Equal(PersonStatus.Active, live.Current.Pending!.People[alice.Id].Status);
    }

    [Fact]
    public async Task AChangeInFlight_IsPendingUntilCompleted_AndFoldsOverLaterUpdates()
    {
        var live = new LiveConfiguration(SiteTopology.Empty, Cardholders.Empty);
        var alice = new Person(new PersonId("p-alice"), "Alice", PersonKind.Employee, PersonStatus.Active, []);
        var bob = new Person(new PersonId("p-bob"), "Bob", PersonKind.Employee, PersonStatus.Active, []);

        var change = await live.BeginChangeAsync(c => c.With(alice));
        live.UpdateCardholders(c => c.With(bob));

        Assert.Equal(["p-bob"], live.Cardholders.People.Keys.Select(k => k.Value));
        Assert.Equal(["p-alice", "p-bob"], live.Current.Pending!.People.Keys.Select(k => k.Value).Order());
        change.Complete();
        change.Dispose();
        Assert.Null(live.Current.Pending);
        Assert.Equal(["p-alice", "p-bob"], live.Cardholders.People.Keys.Select(k => k.Value).Order());

        using (await live.BeginChangeAsync(c => c.With(alice with { Name = "Alice B." })))
        {
            Assert.Equal("Alice B.", live.Current.Pending!.People[alice.Id].Name);
        }

        Assert.Null(live.Current.Pending);
        Assert.Equal("Alice", live.Cardholders.People[alice.Id].Name);
    }

    [Fact]
    public async Task AChangeBegunByTheHolderOfTheChangeInFlight_FailsAtOnce_AnotherFlowStillWaitsItsTurn()
    {
        var live = new LiveConfiguration(SiteTopology.Empty, Cardholders.Empty);
        var alice = new Person(new PersonId("p-alice"), "Alice", PersonKind.Employee, PersonStatus.Active, []);
        var held = await live.BeginChangeAsync(c => c.With(alice with { Status = PersonStatus.Suspended }));

        // Nested: the holder begins another (its audit or write step calling something that changes cardholders too).
        async Task BeginNestedAsync()
        {
            using var again = await live.BeginChangeAsync(c => c.With(alice));
        }

        var nested = BeginNestedAsync();
        var answered = await Task.WhenAny(nested, Task.Delay(EdgeHarness.Timeout));
        Assert.True(answered == nested, "a change begun by the holder of the change in flight must not wait for itself (it waited for ever)");
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => nested);

        var other = InAnotherFlowAsync(() => live.BeginChangeAsync(c => c.With(alice)));
        var otherWaited = !other.IsCompleted;
        held.Complete();
        held.Dispose();
        using var begun = await other.WaitAsync(EdgeHarness.Timeout);

        Assert.Contains("would wait for itself", refused.Message, StringComparison.Ordinal);
        Assert.True(otherWaited, "a change begun by another flow waits until the one in flight is in force");
        Assert.Equal(PersonStatus.Active, live.Current.Pending!.People[alice.Id].Status);
    }

    /// <summary>Begins a change as a flow of its own does (another admin request), not one the caller started: the caller may wait for it.</summary>
    private static Task<LiveConfiguration.Change> InAnotherFlowAsync(Func<Task<LiveConfiguration.Change>> begin)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(begin);
        }
    }

    private static long seq;

    private static async Task SwipeAsync(EdgeHarness edge, string eventId)
    {
        var swipe = new ReaderEvent(eventId, Interlocked.Increment(ref seq), edge.Clock.GetCurrentInstant(), ReaderEventType.Card, Operator, Ev3, false, null);
        await edge.Edge.Pipeline.EnqueueAsync(edge.Edge.Topics.ReaderEvents("rdr-lobby-in"), WireFormat.Write(swipe));
    }
}
