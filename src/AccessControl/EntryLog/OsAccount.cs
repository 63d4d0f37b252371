using System.Globalization;
using System.Runtime.InteropServices;

namespace AccessControl.EntryLog;

/// <summary>
/// The operating-system account a CLI command that writes the log ran as: recorded beside the name the caller typed
/// (<c>--actor</c>, <c>--by</c>), which anyone with shell access can set to anything, in the row's detail as
/// <c>osUser</c> and <c>osUid</c>, and <c>loginUid</c> (with <c>loginUser</c>) when the account someone logged in
/// as is known. Read once, by the composition root (<see cref="Current"/>); commands take it as a value, so a test
/// says who ran them.
/// </summary>
/// <param name="User">The account's name, as the OS gives it.</param>
/// <param name="Uid">The numeric user id (Unix: the effective uid, the one whose file permissions let the write happen); null on Windows.</param>
/// <param name="LoginUid">
/// Linux's audit login uid: the account whose login session ran the command, kept across <c>sudo</c> and <c>su</c>
/// (so under <c>sudo -u accesscontrol</c> it is the operator, where <see cref="Uid"/> is <c>accesscontrol</c>). Set by
/// pam_loginuid at login and not changeable without CAP_AUDIT_CONTROL, unlike <c>SUDO_USER</c>, which anyone can set.
/// Null when unset (no login session: a container, a service) or not on Linux.
/// </param>
/// <param name="LoginUser">The name of the <see cref="LoginUid"/> account, when it is another account than <see cref="Uid"/>'s and the OS knows its name.</param>
public sealed record OsAccount(string User, long? Uid, long? LoginUid = null, string? LoginUser = null)
{
    /// <summary>Where Linux gives a process its audit login uid.</summary>
    public const string LoginUidFile = "/proc/self/loginuid";

    /// <summary>What <see cref="LoginUidFile"/> holds when no login set it: (uid_t)-1.</summary>
    private const long UnsetLoginUid = uint.MaxValue;

    /// <summary>The actor recorded when the caller names none: <c>cli:</c> and the account's name.</summary>
    public string ActorName => "cli:" + User;

    /// <summary>Whether the login account is another one than the account the command ran as (a <c>sudo</c>, a <c>su</c>).</summary>
    public bool LoggedInAsAnother => LoginUid is { } login && login != Uid;

    /// <summary>For display: <c>alice (uid 1000)</c>.</summary>
    public override string ToString() => Uid is { } uid ? $"{User} (uid {uid})" : User;

    /// <summary>The account this process runs as. Only the composition root (Program.cs) calls it.</summary>
    public static OsAccount Current() => Read(LoginUidFile, NameOf);

    /// <summary>The account this process runs as, its login uid read from <paramref name="loginUidFile"/>.</summary>
    /// <param name="nameOf">The name of an account by uid; null when the OS knows none.</param>
    internal static OsAccount Read(string loginUidFile, Func<long, string?> nameOf)
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

        var login = ReadLoginUid(loginUidFile);
        return new OsAccount(Environment.UserName, uid, login, login is { } l && l != uid ? nameOf(l) : null);
    }

    /// <summary>
    /// The login uid in a file of the form of <see cref="LoginUidFile"/> (a decimal uid), or null: unset
    /// (<c>4294967295</c>), no such file (not Linux, a kernel without audit), or not a uid. It adds to the record of who
    /// ran a command, and the command runs without it, so anything but a uid records none.
    /// </summary>
    internal static long? ReadLoginUid(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) && uid < UnsetLoginUid ? uid : null;
    }

    /// <summary>The account's name from the OS's user database (files, LDAP: whatever NSS is set to); null when none.</summary>
    private static string? NameOf(long uid)
    {
        try
        {
            // getpwuid's struct passwd begins with pw_name; the struct is libc's own, valid until the next call (one, at start).
            var entry = GetPasswordEntry((uint)uid);
            return entry == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(entry));
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    // DllImport, not LibraryImport: calls without marshalling code (a uid in, a pointer out), and the project allows no unsafe code.
    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    [DllImport("libc", EntryPoint = "getpwuid")]
    private static extern IntPtr GetPasswordEntry(uint uid);
}
