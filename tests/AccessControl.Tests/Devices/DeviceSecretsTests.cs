using AccessControl.Devices;

namespace AccessControl.Tests.Devices;

public class DeviceSecretsTests
{
    private static readonly byte[] Key = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void For_KnownKeyAndUsername_GivesPinnedHmacSha256Base64Url()
    {
        // Computed independently: base64url(HMAC-SHA256(key 00..1f, "ac-device-v1:" + username))[..32].
        // Changing the derivation re-keys every installed device, so it is pinned.
        var secrets = new DeviceSecrets(Key);

        Assert.Equal("d81lGutnsbdrqsp7Tb74p-beBZVP0QBR", secrets.For("rdr-hall-a-in"));
        Assert.Equal("7T9JCCpvOcphRxNNgkFYYRevK3vv_-Al", secrets.For(DeviceSecrets.ServiceUsername));
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void For_SameKeyAndUsername_IsDeterministicAcrossInstances()
    {
        Assert.Equal(new DeviceSecrets(Key).For("rdr-1"), new DeviceSecrets([.. Key]).For("rdr-1"));
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void For_DifferentDevices_GiveDifferentSecrets()
    {
        var secrets = new DeviceSecrets(Key);
        string[] usernames = ["rdr-1", "rdr-2", "ctl-1", "RDR-1", DeviceSecrets.ServiceUsername, DeviceSecrets.MonitorUsername, ""];

        var all = usernames.Select(secrets.For).ToList();

        Assert.Equal(usernames.Length, all.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void For_DifferentKeys_GiveDifferentSecrets()
    {
        var otherKey = (byte[])Key.Clone();
        otherKey[31] ^= 1;

        Assert.NotEqual(new DeviceSecrets(Key).For("rdr-1"), new DeviceSecrets(otherKey).For("rdr-1"));
        Assert.NotEqual(new DeviceSecrets(DeviceSecrets.NewKey()).For("rdr-1"), new DeviceSecrets(DeviceSecrets.NewKey()).For("rdr-1"));
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void For_Always32CharactersOfBase64Url()
    {
        var secrets = new DeviceSecrets(DeviceSecrets.NewKey());

        foreach (var username in new[] { "a", "rdr-hall-a-in", new string('x', 200), "ümlaut" })
        {
            var secret = secrets.For(username);
            Assert.Equal(32, secret.Length);
            Assert.Matches("^[A-Za-z0-9_-]{32}\\z", secret);
        }
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void Verify_CorrectPassword_IsTrue()
    {
        var secrets = new DeviceSecrets(Key);

        Assert.True(secrets.Verify("rdr-hall-a-in", "d81lGutnsbdrqsp7Tb74p-beBZVP0QBR"));
        Assert.True(secrets.Verify("rdr-2", secrets.For("rdr-2")));
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void Verify_WrongPassword_IsFalse()
    {
        var secrets = new DeviceSecrets(Key);
        const string device = "rdr-hall-a-in";
        const string right = "d81lGutnsbdrqsp7Tb74p-beBZVP0QBR";

        Assert.False(secrets.Verify(device, secrets.For("rdr-2"))); // another device's password
        Assert.False(secrets.Verify(device, new DeviceSecrets(DeviceSecrets.NewKey()).For(device))); // another key
        Assert.False(secrets.Verify(device, right.AsSpan(0, 31))); // truncated
        Assert.False(secrets.Verify(device, right + "x")); // extended
        Assert.False(secrets.Verify(device, "D81lGutnsbdrqsp7Tb74p-beBZVP0QBR")); // case changed
        Assert.False(secrets.Verify(device, "d81lGutnsbdrqsp7Tb74p-beBZVP0QBS")); // last character changed
        Assert.False(secrets.Verify(device, ""));
        Assert.False(secrets.Verify("rdr-hall-a-out", right)); // right password, other username
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [Trait("control", "NIST-IA-3")]
    public void Constructor_KeyShorterThan32Bytes_Throws(int length)
    {
        var ex = Assert.Throws<ArgumentException>(() => new DeviceSecrets(new byte[length]));

        Assert.Equal("key", ex.ParamName);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void Constructor_KeyOf32BytesOrMore_IsAccepted(int length)
    {
        Assert.Equal(32, new DeviceSecrets(new byte[length]).For("rdr-1").Length);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void Constructor_CopiesTheKey_SoLaterChangesToTheArrayDoNotReKey()
    {
        var key = (byte[])Key.Clone();
        var secrets = new DeviceSecrets(key);
        var before = secrets.For("rdr-1");

        Array.Clear(key);

        Assert.Equal(before, secrets.For("rdr-1"));
    }

    [Fact]
    public void NewKey_Is32RandomBytes()
    {
        var a = DeviceSecrets.NewKey();
        var b = DeviceSecrets.NewKey();

        Assert.Equal(32, a.Length);
        Assert.NotEqual(a, b);
    }
}
