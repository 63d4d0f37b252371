using AccessControl.EntryLog;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The login uid beside the account a CLI command ran as (<see cref="OsAccount.Read"/>), read from a file of the form of
/// /proc/self/loginuid. The kernel's own value cannot be set from a test: each test gives its own file.
/// </summary>
public sealed class OsAccountTests : IDisposable
{
    private readonly string file = Path.Combine(Path.GetTempPath(), $"loginuid-{Guid.NewGuid():N}");

    /// <summary>The effective uid of the test process, read as the service reads it (the service runs on Linux).</summary>
    private static long RunningUid => Assert.NotNull(OsAccount.Read("/nonexistent/loginuid", _ => null).Uid);

    public void Dispose() => File.Delete(file);

    [Theory]
    [InlineData("4294967295")] // (uid_t)-1: no login session set it (a container, a service started by init)
    [InlineData("")]
    [InlineData("alice")]
    [InlineData("-1")]
    [InlineData("4294967296")]
    [InlineData(null)] // no such file: not Linux, or a kernel without audit
    public void Read_LoginUidUnsetOrNotAUid_RecordsNoLogin(string? content)
    {
        if (content is not null)
        {
            File.WriteAllText(file, content);
        }

        var account = OsAccount.Read(file, _ => throw new InvalidOperationException("no login uid: no name to look up"));

        Assert.Equal((null, null), (account.LoginUid, account.LoginUser));
        Assert.False(account.LoggedInAsAnother);
    }

    [Fact]
    [Trait("control", "NIST-AU-10")]
    public void Read_LoginUidOfAnotherAccount_RecordsItAndItsName()
    {
        var operatorUid = RunningUid + 1; // who ran sudo: any account but the one the command runs as
        File.WriteAllText(file, operatorUid + "\n");

        var account = OsAccount.Read(file, uid => uid == operatorUid ? "alice" : null);

        Assert.Equal((operatorUid, "alice"), (account.LoginUid, account.LoginUser));
        Assert.True(account.LoggedInAsAnother);
    }

    [Fact]
    public void Read_LoginUidOfTheAccountItself_RecordsTheUidAlone()
    {
        File.WriteAllText(file, RunningUid.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var account = OsAccount.Read(file, _ => throw new InvalidOperationException("the same account: its name is osUser"));

        Assert.Equal(((long?)RunningUid, null), (account.LoginUid, account.LoginUser));
        Assert.False(account.LoggedInAsAnother);
    }
}
