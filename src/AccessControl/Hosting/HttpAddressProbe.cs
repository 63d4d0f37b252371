using System.Net;
using System.Net.Sockets;
using AccessControl.Broker;
using Microsoft.AspNetCore.Connections;

namespace AccessControl.Hosting;

/// <summary>
/// Whether the admin API's address is free, asked before the service opens or writes anything. Kestrel binds only at
/// the end of a start, after the database is opened, the site files imported and the broker running: a taken port then
/// failed with ASP.NET Core's stack trace in the journal, and with a start's work half done. The probe binds the address
/// for a moment, as Kestrel will (rebinding over old connections allowed, a listener not), and lets it go.
/// </summary>
/// <remarks>
/// A port taken between the probe and Kestrel's bind is still refused there, as before. Port 0, and a host that is not
/// an address or <c>localhost</c> (a name, <c>+</c>, <c>*</c>), are left to Kestrel.
/// </remarks>
internal static class HttpAddressProbe
{
    /// <summary>Throws <see cref="AddressInUseException"/> (over the socket's own error) when something listens on <paramref name="url"/>'s address.</summary>
    public static void ThrowIfTaken(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Port <= 0)
        {
            return;
        }

        IPAddress? address = string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            ? IPAddress.Loopback
            : IPAddress.TryParse(uri.Host, out var parsed) ? parsed : null;
        if (address is null)
        {
            return;
        }

        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        BrokerListeners.AllowRebindOnly(socket);
        try
        {
            socket.Bind(new IPEndPoint(address, uri.Port));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(ex.Message, ex);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            // An address of another machine (a copied settings file): Kestrel could never listen there. Said as a
            // setting it cannot use (exit 2), not as a crash with a stack trace.
            throw new SettingsException($"Invalid settings: AccessControl:HttpUrl '{url}' names {address}, which is not an address of this machine; give one of its own (127.0.0.1 behind a TLS proxy).", ex);
        }
    }
}
