using System.Buffers;
using System.Text;

namespace AccessControl.Tests.Protocol;

/// <summary>Literal JSON as an MQTT payload would carry it.</summary>
internal static class Json
{
    public static ReadOnlySequence<byte> Payload(string json) => new(Encoding.UTF8.GetBytes(json));

    public static string Text(byte[] utf8) => Encoding.UTF8.GetString(utf8);
}
