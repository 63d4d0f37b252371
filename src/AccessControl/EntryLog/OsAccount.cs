using System.Runtime.InteropServices;

namespace AccessControl.EntryLog;

/// <summary>
/// The operating-system account a CLI command that writes the log ran as: recorded beside the name the caller typed
/// (<c>--actor</c>, <c>--by</c>), which anyone with shell access can set to anything, in the row's detail as
/// <c>osUser</c> and <c>osUid</c>. Read once, by the composition root (<see cref="Current"/>); commands take it as a
/// value, so a test says who ran them.
/// </summary>
/// <param name="User">The account's name, as the OS gives it.</param>
/// <param name="Uid">The numeric user id (Unix: the effective uid, the one whose file permissions let the write happen); null on Windows.</param>
public sealed record OsAccount(string User, long? Uid)
{
    /// <summary>The actor recorded when the caller names none: <c>cli:</c> and the account's name.</summary>
    public string ActorName => "cli:" + User;

    /// <summary>For display: <c>alice (uid 1000)</c>.</summary>
    public override string ToString() => Uid is { } uid ? $"{User} (uid {uid})" : User;

    /// <summary>The account this process runs as. Only the composition root (Program.cs) calls it.</summary>
    public static OsAccount Current()
    {
        long? uid = null;
        if (!OperatingSystem.IsWindows())
        {
            try
            {
                uid = GetEffectiveUserId();
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                // No libc to ask: the name alone is recorded.
            }
        }

        return new OsAccount(Environment.UserName, uid);
    }

    // DllImport, not LibraryImport: one call without arguments needs no marshalling code, and the project allows no unsafe code.
    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();
}
