using System.Net;

namespace AccessControl.Broker;

/// <summary>
/// TLS on the MQTT connection, bound from <c>Broker:Tls</c>. With it the broker proves itself with a certificate
/// from the site CA and, by default, every client must present its own certificate from that CA whose CN is its
/// MQTT username (mutual TLS): the identity comes from the certificate, not from a password that could be copied
/// off one device's flash onto another. Files are the ones <c>deploy/pki/issue-certs.sh</c> writes (PEM), or a
/// PFX for the client certificate.
/// </summary>
/// <remarks>
/// One record serves both ends of the service: <see cref="ServerCertFile"/>/<see cref="ServerKeyFile"/> are the
/// embedded broker's (unused with Mosquitto, which has its own config), <see cref="ClientCertFile"/> is what
/// <see cref="ServiceConnection"/> presents as <c>ac-service</c>.
/// </remarks>
public sealed record BrokerTlsOptions
{
    public bool Enabled { get; init; }

    /// <summary>The site CA certificate (PEM): the only root trusted for the broker's and the clients' certificates.</summary>
    public string CaFile { get; init; } = "";

    /// <summary>
    /// The site CRL (PEM), read again for every new device connection by the embedded broker. Null: no revocation
    /// check, which the validation rejects unless <see cref="AllowMissingCrl"/> is set.
    /// </summary>
    public string? CrlFile { get; init; }

    /// <summary>For a lab only: run without a CRL.</summary>
    public bool AllowMissingCrl { get; init; }

    /// <summary>The embedded broker's certificate (PEM; SANs must include the names clients connect to).</summary>
    public string? ServerCertFile { get; init; }

    /// <summary>The embedded broker's private key (PEM).</summary>
    public string? ServerKeyFile { get; init; }

    /// <summary>The service's client certificate, CN <c>ac-service</c> (PEM, or <c>.pfx</c>/<c>.p12</c>).</summary>
    public string? ClientCertFile { get; init; }

    /// <summary>The key of a PEM <see cref="ClientCertFile"/>; unused for a PFX.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>Password of a PFX <see cref="ClientCertFile"/>, if it has one.</summary>
    public string? ClientCertPassword { get; init; }

    /// <summary>
    /// Whether the embedded broker requires a client certificate (mutual TLS). True in production; false lets
    /// clients without a certificate log in with their password over TLS.
    /// </summary>
    public bool RequireClientCertificate { get; init; } = true;

    /// <summary>
    /// Address the embedded broker's TLS listener binds. Loopback by default; 0.0.0.0 to let readers on the site
    /// network connect directly (the service itself always connects over loopback).
    /// </summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// A plain (unencrypted, password-only) listener of the embedded broker on 127.0.0.1 besides the TLS one, for a
    /// migration period. Null (default): none. 0: any free port.
    /// </summary>
    public int? PlainPort { get; init; }

    /// <summary>The name the broker's certificate must carry, when it differs from <see cref="BrokerOptions.Host"/>.</summary>
    public string? TargetHost { get; init; }

    /// <summary>Every problem with these options, for a TLS-enabled broker in <paramref name="mode"/>.</summary>
    public IReadOnlyList<string> Validate(BrokerMode mode)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(CaFile))
        {
            errors.Add("Broker:Tls:CaFile is required when TLS is enabled.");
        }

        if (string.IsNullOrWhiteSpace(CrlFile) && !AllowMissingCrl)
        {
            errors.Add("Broker:Tls:CrlFile is required when TLS is enabled (revoked device certificates must be refused); set AllowMissingCrl for a lab.");
        }

        if (mode == BrokerMode.Embedded && (string.IsNullOrWhiteSpace(ServerCertFile) || string.IsNullOrWhiteSpace(ServerKeyFile)))
        {
            errors.Add("Broker:Tls:ServerCertFile and ServerKeyFile are required for the embedded broker with TLS.");
        }

        if (string.IsNullOrWhiteSpace(ClientCertFile))
        {
            errors.Add("Broker:Tls:ClientCertFile (the service's own certificate, CN ac-service) is required when TLS is enabled.");
        }

        if (!IPAddress.TryParse(ListenAddress, out _))
        {
            errors.Add($"Broker:Tls:ListenAddress '{ListenAddress}' is not an IP address.");
        }

        if (PlainPort is < 0 or > 65535)
        {
            errors.Add($"Broker:Tls:PlainPort {PlainPort} is out of range.");
        }

        return errors;
    }
}
