using System.Security.Cryptography;
using System.Text;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;

namespace AccessControl.Broker;

/// <summary>The three files <see cref="MosquittoConfig.Write"/> produced, as absolute paths.</summary>
public sealed record MosquittoFiles(string ConfigFile, string PasswordFile, string AclFile);

/// <summary>
/// The TLS listener of a generated Mosquitto config: PEM files from <c>deploy/pki/issue-certs.sh</c> (paths as
/// Mosquitto will see them), the address to bind, and optionally a plain password listener on 127.0.0.1 kept for a
/// migration period (null: none).
/// </summary>
public sealed record MosquittoTls(string CaFile, string CertFile, string KeyFile, string CrlFile, string ListenAddress = "127.0.0.1", int? PlainPort = null)
{
    /// <summary>The files of a folder made by <c>deploy/pki/issue-certs.sh</c>: ca.crt, broker.crt, broker.key, crl.pem.</summary>
    public static MosquittoTls FromPkiDirectory(string directory, string listenAddress = "127.0.0.1")
    {
        var dir = Path.GetFullPath(directory);
        return new(Path.Combine(dir, "ca.crt"), Path.Combine(dir, "broker.crt"), Path.Combine(dir, "broker.key"), Path.Combine(dir, "crl.pem"), listenAddress);
    }
}

/// <summary>
/// Writes a Mosquitto 2.0 configuration that enforces the same rules as <see cref="EmbeddedBroker"/>: a password per
/// device (derived from the site key), an ACL generated from <see cref="TopicPolicy"/>, a listener on 127.0.0.1 only,
/// and <c>set_tcp_nodelay</c>. Called by <c>accesscontrol mosquitto-config --site FILE --out DIR</c>.
/// </summary>
/// <remarks>
/// <para>
/// Mosquitto cannot refuse a client id that differs from the username; <c>use_username_as_clientid true</c> gets the
/// same protection differently: whatever client id a device presents, its session is keyed by its username, so it
/// cannot take over another device's session. A forbidden last-will topic is accepted at CONNECT by Mosquitto but
/// checked against the ACL when the will is published, so it is never delivered (the embedded broker refuses it
/// at CONNECT). Mosquitto's ACL has no separate will rule, so a device's will may be any topic it may publish.
/// </para>
/// <para>
/// With <see cref="MosquittoTls"/> the listener is TLS 1.2+ with <c>require_certificate true</c> and
/// <c>use_identity_as_username true</c>: the certificate's CN (the device id) becomes the username the ACL is keyed
/// by, and Mosquitto then ignores any username and password the client sends. <c>crlfile</c> refuses revoked
/// certificates; Mosquitto reads it at start, so after a revocation restart it (or send SIGHUP, see
/// docs/operations.md). OpenSSL refuses every client once the CRL's nextUpdate has passed.
/// </para>
/// <para>
/// The password file is written mode 600 and the config says <c>user</c> = the account that wrote it: Mosquitto
/// drops privileges to that user before reading the password file, so generate the files as the account that will
/// run the broker (root in CI, <c>mosquitto</c> in production).
/// </para>
/// </remarks>
public static class MosquittoConfig
{
    /// <summary>Per-client queue limit, shared with the embedded broker: a disconnected reader's backlog, not a memory leak.</summary>
    public const int MaxQueuedMessages = 1000;

    /// <summary>
    /// What a PUBLISH packet holds besides its payload (fixed header, topic, packet id, MQTT 5 properties), at most: the
    /// publish limit plus this is the largest packet either broker reads (<c>max_packet_size</c>,
    /// <see cref="EmbeddedBroker.MaxPacketBytes"/>). A CONNECT (ids, password, a status will) stays far below it.
    /// </summary>
    public const int PacketHeadroomBytes = 4096;

    /// <summary>
    /// The largest payload either broker accepts from any client: the service's limit on device payloads
    /// (<c>PipelineOptions.MaxPayloadBytes</c>) or the reader commands' <see cref="WireFormat.MaxReaderCommandBytes"/>
    /// (fingerprint templates), whichever is larger. A device payload between the service's limit and this one reaches
    /// the service and is answered <c>malformed_event</c>; a larger one is refused by the broker and never answered.
    /// </summary>
    public static int MaxPublishPayloadBytes(int serviceMaxPayloadBytes) => Math.Max(serviceMaxPayloadBytes, WireFormat.MaxReaderCommandBytes);

    /// <summary>Mosquitto's own default PBKDF2 iteration count. Device passwords are 192-bit random, so stretching adds nothing.</summary>
    public const int PasswordIterations = 101;

    public const string ConfigFileName = "mosquitto.conf";
    public const string PasswordFileName = "passwords";
    public const string AclFileName = "acl";

    /// <summary>
    /// Writes <c>mosquitto.conf</c>, <c>passwords</c> and <c>acl</c> into <paramref name="directory"/> (created if
    /// missing), replacing earlier ones. Throws <see cref="ArgumentException"/> if a device id could not be a safe
    /// username and topic level (see <see cref="TopicPolicy.IsValidDeviceId"/>).
    /// </summary>
    /// <param name="serviceMaxPayloadBytes">The service's <c>PipelineOptions.MaxPayloadBytes</c> (see <see cref="MaxPublishPayloadBytes"/>).</param>
    public static MosquittoFiles Write(
        SiteTopology topology, DeviceSecrets secrets, int port, string directory, Topics topics, MosquittoTls? tls = null,
        int serviceMaxPayloadBytes = WireFormat.DefaultMaxPayloadBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var users = Usernames(topology);

        var dir = Path.GetFullPath(directory);
        Directory.CreateDirectory(dir);
        var files = new MosquittoFiles(
            Path.Combine(dir, ConfigFileName),
            Path.Combine(dir, PasswordFileName),
            Path.Combine(dir, AclFileName));

        WritePrivate(files.PasswordFile, RenderPasswords(users, secrets));
        WritePrivate(files.AclFile, RenderAcl(topology, topics));
        WritePrivate(files.ConfigFile, RenderConfig(port, files.PasswordFile, files.AclFile, Environment.UserName, tls, serviceMaxPayloadBytes));
        return files;
    }

    /// <summary>Every username the broker must know: the service, the monitor, then readers, controllers and fire panels, sorted.</summary>
    public static IReadOnlyList<string> Usernames(SiteTopology topology)
    {
        var readers = topology.Readers.Keys.Select(r => r.Value).Order(StringComparer.Ordinal).ToList();
        var controllers = topology.Controllers.Keys.Select(c => c.Value).Order(StringComparer.Ordinal).ToList();
        var panels = topology.FirePanels.Keys.Order(StringComparer.Ordinal).ToList();
        var bad = readers.Concat(controllers).Concat(panels).Where(id => !TopicPolicy.IsValidDeviceId(id)).ToList();
        if (bad.Count > 0)
        {
            throw new ArgumentException($"Device ids not usable as MQTT usernames: {string.Join(", ", bad.Select(SecurityEvent.Clean))}.", nameof(topology));
        }

        var shared = readers.Intersect(controllers, StringComparer.Ordinal).ToList();
        if (shared.Count > 0)
        {
            throw new ArgumentException($"Ids used by both a reader and a controller: {string.Join(", ", shared)}.", nameof(topology));
        }

        var panelShared = panels.Intersect(readers.Concat(controllers), StringComparer.Ordinal).ToList();
        if (panelShared.Count > 0)
        {
            throw new ArgumentException($"Ids used by both a fire panel and a reader or controller: {string.Join(", ", panelShared)}.", nameof(topology));
        }

        return [DeviceSecrets.ServiceUsername, DeviceSecrets.ServicePublisherUsername, DeviceSecrets.MonitorUsername, .. readers, .. controllers, .. panels];
    }

    /// <summary>
    /// The broker configuration. <paramref name="runAsUser"/> must be able to read the other two files (and the TLS
    /// key). With <paramref name="tls"/>, <paramref name="port"/> is the TLS listener's port.
    /// </summary>
    public static string RenderConfig(
        int port, string passwordFile, string aclFile, string runAsUser, MosquittoTls? tls = null, int serviceMaxPayloadBytes = WireFormat.DefaultMaxPayloadBytes) =>
        $"""
        # Generated by `accesscontrol mosquitto-config`. Do not edit: regenerate from the site file.
        # Mosquitto drops privileges to this account before reading the password file (mode 600, owned by it).
        user {runAsUser}
        per_listener_settings false
        {(tls is null ? PlainListener(port) : TlsListener(port, tls))}
        allow_anonymous false
        password_file {passwordFile}
        acl_file {aclFile}
        # Sessions are keyed by username whatever client id is presented, so no device can take over another's session.
        use_username_as_clientid true
        persistence false
        log_dest stdout
        log_type error
        log_type warning
        log_type notice
        log_type information
        connection_messages true
        # Without it, Nagle's algorithm and delayed ACKs add ~44 ms to every round trip.
        set_tcp_nodelay true
        max_queued_messages {MaxQueuedMessages}
        # No client sends more than this payload: a larger PUBLISH is refused (QoS 1: an error PUBACK, 0x95), and a
        # packet larger than the next line ends the connection before it is read into memory (as in the embedded broker).
        message_size_limit {MaxPublishPayloadBytes(serviceMaxPayloadBytes)}
        max_packet_size {MaxPublishPayloadBytes(serviceMaxPayloadBytes) + PacketHeadroomBytes}

        """;

    private static string PlainListener(int port) =>
        $"""
        # Loopback only: devices reach the broker through the site's network edge.
        listener {port} 127.0.0.1
        """;

    private static string TlsListener(int port, MosquittoTls tls)
    {
        var text = new StringBuilder();
        text.Append("# Mutual TLS: every client presents a certificate from the site CA; its CN is its username (the ACL key).\n")
            .Append("# Username and password sent by the client are then ignored.\n")
            .Append($"listener {port} {tls.ListenAddress}\n")
            .Append($"cafile {tls.CaFile}\n")
            .Append($"certfile {tls.CertFile}\n")
            .Append($"keyfile {tls.KeyFile}\n")
            .Append("require_certificate true\n")
            .Append("use_identity_as_username true\n")
            .Append("# Revoked device certificates; reissued by `issue-certs.sh crl` (before nextUpdate, or every client is refused).\n")
            .Append($"crlfile {tls.CrlFile}\n")
            .Append("tls_version tlsv1.2");
        if (tls.PlainPort is { } plain)
        {
            text.Append("\n# Plain listener with passwords, loopback only, for the migration period. Remove when every device has its certificate.\n")
                .Append($"listener {plain} 127.0.0.1");
        }

        return text.ToString();
    }

    /// <summary>The ACL: one <c>user</c> block per principal with its <see cref="TopicPolicy"/> grants; nothing else is allowed.</summary>
    public static string RenderAcl(SiteTopology topology, Topics topics)
    {
        var policy = new TopicPolicy(topics);
        var acl = new StringBuilder();
        acl.Append("# Generated by `accesscontrol mosquitto-config` from TopicPolicy. Do not edit: regenerate from the site file.\n");
        acl.Append("# Anything not listed is denied. write = publish, read = subscribe and receive.\n");
        foreach (var username in Usernames(topology))
        {
            var principal = policy.Identify(topology, username)
                ?? throw new InvalidOperationException($"Username '{username}' is listed but not identified by the topic policy.");
            acl.Append('\n').Append("user ").Append(username).Append('\n');
            var grants = policy.GrantsFor(topology, principal);
            foreach (var group in grants.GroupBy(g => g.Filter))
            {
                var publish = group.Any(g => g.Access == TopicAccess.Publish);
                var subscribe = group.Any(g => g.Access == TopicAccess.Subscribe);
                var access = (publish, subscribe) switch
                {
                    (true, true) => "readwrite",
                    (true, false) => "write",
                    _ => "read",
                };
                acl.Append("topic ").Append(access).Append(' ').Append(group.Key).Append('\n');
            }
        }

        return acl.ToString();
    }

    /// <summary>Password file lines (<c>user:$7$...</c>) with a fresh random salt per user.</summary>
    public static string RenderPasswords(IEnumerable<string> usernames, DeviceSecrets secrets)
    {
        var lines = new StringBuilder();
        foreach (var username in usernames)
        {
            lines.Append(username).Append(':').Append(HashPassword(secrets.For(username), RandomNumberGenerator.GetBytes(12))).Append('\n');
        }

        return lines.ToString();
    }

    /// <summary>
    /// Mosquitto 2.0's password hash, as <c>mosquitto_passwd</c> writes it: <c>$7$iterations$base64(salt)$base64(hash)</c>
    /// with hash = PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes). Done here rather than by running
    /// <c>mosquitto_passwd</c> so passwords never appear on a command line and Mosquitto need not be installed to
    /// generate a deployment. A test pins it against a line produced by mosquitto_passwd 2.0.11.
    /// </summary>
    public static string HashPassword(string password, ReadOnlySpan<byte> salt, int iterations = PasswordIterations)
    {
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, 64);
        return $"$7${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    private static void WritePrivate(string path, string content)
    {
        // Delete first: an existing file keeps its old (possibly wider) mode when overwritten.
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options);
        writer.Write(content);
    }
}
