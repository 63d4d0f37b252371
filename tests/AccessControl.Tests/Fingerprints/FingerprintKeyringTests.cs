using System.Security.Cryptography;
using AccessControl.Fingerprints;
using AccessControl.Sites;

namespace AccessControl.Tests.Fingerprints;

/// <summary>Templates at rest: AES-256-GCM bound to their row, keys from a file or the environment (ISO/IEC 24745).</summary>
public class FingerprintKeyringTests
{
    private static readonly TemplateBinding Row = new("fpt-0001", new PersonId("p-alice"), "right-index", "ac-sim-v1");

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public void Seal_ThenOpen_GivesTheTemplateBack_AndTheCiphertextIsNotThePlaintext()
    {
        var keyring = FingerprintKeyring.NewRandom();
        var template = RandomNumberGenerator.GetBytes(300);

        var sealedTemplate = keyring.Seal(Row, template);

        Assert.Equal(template, keyring.TryOpen(Row, sealedTemplate));
        Assert.Equal("k1", sealedTemplate.KeyId);
        Assert.Equal(FingerprintKeyring.NonceBytes, sealedTemplate.Nonce.Length);
        Assert.Equal(template.Length + FingerprintKeyring.TagBytes, sealedTemplate.CiphertextAndTag.Length);
        Assert.False(sealedTemplate.CiphertextAndTag.AsSpan().IndexOf(template.AsSpan(0, 16)) >= 0);
        Assert.NotEqual(sealedTemplate.Nonce, keyring.Seal(Row, template).Nonce);
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public void Open_WithAnotherKeyOfTheSameId_GivesNothing()
    {
        var sealedTemplate = FingerprintKeyring.NewRandom().Seal(Row, RandomNumberGenerator.GetBytes(64));

        Assert.Null(FingerprintKeyring.NewRandom().TryOpen(Row, sealedTemplate));
        Assert.Null(FingerprintKeyring.NewRandom("k2").TryOpen(Row, sealedTemplate));
    }

    [Theory]
    [Trait("control", "ISO-IEC-24745")]
    [InlineData("ciphertext")]
    [InlineData("tag")]
    [InlineData("nonce")]
    public void Open_TamperedCiphertextTagOrNonce_GivesNothing(string part)
    {
        var keyring = FingerprintKeyring.NewRandom();
        var sealedTemplate = keyring.Seal(Row, RandomNumberGenerator.GetBytes(64));
        var ciphertext = sealedTemplate.CiphertextAndTag.ToArray();
        var nonce = sealedTemplate.Nonce.ToArray();
        switch (part)
        {
            case "ciphertext": ciphertext[3] ^= 1; break;
            case "tag": ciphertext[^1] ^= 0x80; break;
            default: nonce[0] ^= 1; break;
        }

        Assert.Null(keyring.TryOpen(Row, sealedTemplate with { CiphertextAndTag = ciphertext, Nonce = nonce }));
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public void Open_CiphertextMovedToAnotherPersonFingerOrFormat_GivesNothing()
    {
        var keyring = FingerprintKeyring.NewRandom();
        var sealedTemplate = keyring.Seal(Row, RandomNumberGenerator.GetBytes(64));

        Assert.Null(keyring.TryOpen(Row with { Person = new PersonId("p-mallory") }, sealedTemplate));
        Assert.Null(keyring.TryOpen(Row with { Finger = "left-index" }, sealedTemplate));
        Assert.Null(keyring.TryOpen(Row with { Format = "iso-19794-2" }, sealedTemplate));
        Assert.Null(keyring.TryOpen(Row with { TemplateId = "fpt-0002" }, sealedTemplate));
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public void Load_WithoutAKeyFile_CreatesOneReadableByTheOwnerOnly_AndReadsTheSameKeyNextTime()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-fpkeys-" + Guid.NewGuid().ToString("N")[..12]);
        var file = Path.Combine(directory, "fingerprint.keys");
        try
        {
            var first = FingerprintKeyring.Load(file, _ => null);
            var sealedTemplate = first.Seal(Row, [1, 2, 3]);
            var second = FingerprintKeyring.Load(file, _ => null);

            Assert.Equal([1, 2, 3], second.TryOpen(Row, sealedTemplate));
            Assert.Equal("k1", second.Current.Id);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public void Load_FromTheEnvironment_TakesTheLastKeyAsCurrent_AndKeepsTheOlderOnesForReading()
    {
        var k1 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var k2 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var old = FingerprintKeyring.Parse($"k1 {k1}", "test");
        var sealedTemplate = old.Seal(Row, [9, 9, 9]);

        var keyring = FingerprintKeyring.Load("/nonexistent/fingerprint.keys", name => name == FingerprintKeyring.EnvironmentVariable ? $"k1 {k1};k2 {k2}" : null);

        Assert.Equal("k2", keyring.Current.Id);
        Assert.Equal(["k1", "k2"], keyring.KeyIds.ToArray());
        Assert.Equal([9, 9, 9], keyring.TryOpen(Row, sealedTemplate));
        Assert.Equal("k2", keyring.Seal(Row, [1]).KeyId);
    }

    [Theory]
    [Trait("control", "ISO-IEC-24745")]
    [InlineData("k1 c2hvcnQ=")]
    [InlineData("k1")]
    [InlineData("bad/id AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("# only a comment")]
    public void Parse_MalformedKeyText_IsRefused_WithoutShowingTheKey(string text)
    {
        var error = Assert.Throws<FormatException>(() => FingerprintKeyring.Parse(text, "fingerprint.keys"));

        Assert.Contains("fingerprint.keys", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c2hvcnQ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public void ToString_OfKeysAndCiphertexts_ShowsIdsOnly()
    {
        var material = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var keyring = FingerprintKeyring.Parse($"k7 {material}", "test");
        var template = new byte[] { 0xAB, 0xCD, 0xEF, 0x12 };
        var sealedTemplate = keyring.Seal(Row, template);

        var text = $"{keyring} {keyring.Current} {sealedTemplate} {new FingerprintTemplate("fpt-1", "right-index", "ac-sim-v1", template)}";

        Assert.Contains("k7", text, StringComparison.Ordinal);
        Assert.DoesNotContain(material, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(sealedTemplate.CiphertextAndTag), text, StringComparison.Ordinal);
        Assert.DoesNotContain("ABCDEF", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("171", text, StringComparison.Ordinal);
    }
}
