using AccessControl.EntryLog;

namespace AccessControl.Sites;

/// <summary>What a stored site file is recorded as when its layout goes live (written at start-up, naming who loaded it).</summary>
[WrittenAs(ActionRows.Itself)]
public static class SiteActions
{
    public const string Load = "site.load";
}
