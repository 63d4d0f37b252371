using System.Text.RegularExpressions;
using AccessControl.Decisions;

namespace AccessControl.Tests.Decisions;

public partial class AccessReasonCodesTests
{
    public static TheoryData<AccessReason> Reasons => [.. Enum.GetValues<AccessReason>()];

    [Theory]
    [MemberData(nameof(Reasons))]
    public void ToCode_EveryReason_IsSnakeCaseAndRoundTrips(AccessReason reason)
    {
        var code = reason.ToCode();

        Assert.Matches(SnakeCase(), code);
        Assert.True(AccessReasonCodes.TryParse(code, out var parsed));
        Assert.Equal(reason, parsed);
    }

    [Fact]
    public void ToCode_AllReasons_AreDistinctAndCoverTheEnum()
    {
        var codes = AccessReasonCodes.All.Select(r => r.ToCode()).ToList();

        Assert.Equal(Enum.GetValues<AccessReason>().Length, AccessReasonCodes.All.Count);
        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void ToCode_WireCodes_ArePinned()
    {
        // These are on the wire and in the entry log: renaming one is a protocol break.
        Assert.Equal(
            [
                "granted", "unknown_reader", "malformed_event", "unknown_credential", "credential_revoked", "credential_suspended",
                "credential_not_yet_valid", "credential_expired", "credential_technology_not_allowed", "no_access_to_zone",
                "outside_schedule", "anti_passback", "log_failure", "escort_required",
                "badge_returned", "visit_outside_window", "visitor_zone_not_approved", "visit_not_checked_in", "watchlisted",
                "fingerprint_required", "fingerprint_mismatch", "fingerprint_timeout", "fingerprint_not_enrolled", "fingerprint_lockout", "fingerprint_unexpected",
                "replay_suspected",
            ],
            AccessReasonCodes.All.Select(r => r.ToCode()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("GRANTED")]
    [InlineData("Granted")]
    [InlineData("granted ")]
    [InlineData("access_granted")]
    [InlineData("0")]
    [InlineData(null)]
    public void TryParse_UnknownCode_Fails(string? code)
    {
        Assert.False(AccessReasonCodes.TryParse(code, out _));
    }

    [GeneratedRegex(@"^[a-z]+(_[a-z]+)*\z")]
    private static partial Regex SnakeCase();
}
