namespace AccessControl.Admin;

/// <summary>
/// Who asks <see cref="AdminService"/> for a change (or the visitor service for its retention purge, which changes
/// cardholders through it, or the fingerprint service for a rekey, which re-encrypts every site's templates): the name its audit rows record and, when an operator's token asks, that token's identity, so
/// that the service itself refuses a token limited to one site (<see cref="SiteLimit"/>) whoever passes its request on.
/// Cardholders are global: such a token changes none of them.
/// </summary>
public sealed record AdminActor
{
    private AdminActor(string name, OperatorIdentity? token)
    {
        Name = name;
        Token = token;
    }

    /// <summary>The actor of the audit rows and of the cardholder tables' <c>changed_by</c>.</summary>
    public string Name { get; }

    /// <summary>The operator's token that asks; null for a caller of the service's own that acts for every site.</summary>
    public OperatorIdentity? Token { get; }

    /// <summary>An operator's token (an API request): refused when it is limited to one site.</summary>
    public static AdminActor Of(OperatorIdentity who)
    {
        ArgumentNullException.ThrowIfNull(who);
        return new AdminActor(who.Operator, who);
    }

    /// <summary>
    /// A caller that acts for every site, as it did before tokens had sites: the HR feed, a site file, the daily visitor
    /// retention purge, and the visitor service for the per-visit cardholders of a visit whose site it has checked against the desk's token. Never the
    /// token of a request: that is <see cref="Of"/>.
    /// </summary>
    public static AdminActor EverySite(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new AdminActor(name, null);
    }
}
