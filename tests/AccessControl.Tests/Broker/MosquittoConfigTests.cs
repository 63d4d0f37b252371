using System.Runtime.Versioning;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Tests.Support;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

public class MosquittoConfigTests
{
    private static string DeployFile(string name) => Path.Combine(AppContext.BaseDirectory, "deploy", "mosquitto", name);

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void HashPassword_MatchesALineWrittenByMosquittoPasswd()
    {
        // `mosquitto_passwd -U` (Mosquitto 2.0.11) turned "u1:secretpass" into this line; its salt is the second field.
        const string written = "$7$101$LA1lSuM2BBpuZIjM$PXtmeENkD4D1v1vopBhBaa7TJ1vKyG9MozGgXG1lb3wnEg/WIR8XGq4GyNoNWI/a3ANcqWmAxp9cGXyZHqudQg==";

        var hash = MosquittoConfig.HashPassword("secretpass", Convert.FromBase64String("LA1lSuM2BBpuZIjM"));

        Assert.Equal(written, hash);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void RenderPasswords_HasOneSaltedHashPerUser_AndNoPlaintext()
    {
        var users = MosquittoConfig.Usernames(Topology);

        var file = MosquittoConfig.RenderPasswords(users, Secrets);

        var lines = file.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(users, lines.Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]));
        Assert.All(lines, l => Assert.StartsWith("$7$101$", l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..], StringComparison.Ordinal));
        Assert.All(users, u => Assert.DoesNotContain(Secrets.For(u), file, StringComparison.Ordinal));
        Assert.Equal(lines.Length, lines.Select(l => l.Split('$')[3]).Distinct().Count());
    }

    [Fact]
    public void Usernames_AreServiceMonitorThenReadersThenControllers_EachSorted() =>
        Assert.Equal(
            [DeviceSecrets.ServiceUsername, DeviceSecrets.ServicePublisherUsername, DeviceSecrets.MonitorUsername, HallReaderIn, MainReaderIn, MainReaderOut, HallController, MainController],
            MosquittoConfig.Usernames(Topology));

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void RenderAcl_GivesEachDeviceOnlyItsOwnTopics_WithoutWildcards()
    {
        var blocks = ParseAcl(MosquittoConfig.RenderAcl(Topology, Topics));

        Assert.Equal(
            ["topic write ac/v1/readers/rdr-main-in/events", "topic write ac/v1/readers/rdr-main-in/status", "topic read ac/v1/readers/rdr-main-in/decisions", "topic read ac/v1/readers/rdr-main-in/commands"],
            blocks[MainReaderIn]);
        Assert.Equal(
            ["topic write ac/v1/doors/door-main/events", "topic write ac/v1/doors/door-main/status", "topic read ac/v1/doors/door-main/commands"],
            blocks[MainController]);
        Assert.Equal(["topic readwrite ac/v1/#"], blocks[DeviceSecrets.ServiceUsername]);
        Assert.Equal(
            ["topic write ac/v1/readers/+/decisions", "topic write ac/v1/readers/+/commands", "topic write ac/v1/doors/+/commands", "topic write ac/v1/alarms"],
            blocks[DeviceSecrets.ServicePublisherUsername]);
        Assert.Equal(["topic read ac/v1/alarms", "topic read ac/v1/readers/+/decisions", "topic read ac/v1/readers/+/status", "topic read ac/v1/doors/+/status"],
            blocks[DeviceSecrets.MonitorUsername]);
        foreach (var device in blocks.Keys.Except([DeviceSecrets.ServiceUsername, DeviceSecrets.ServicePublisherUsername, DeviceSecrets.MonitorUsername]))
        {
            Assert.All(blocks[device], line => Assert.DoesNotMatch("[+#]", line));
            Assert.All(blocks[device], line => Assert.Contains("/" + (Topology.Readers.Keys.Any(r => r.Value == device) ? device : "door-"), line, StringComparison.Ordinal));
        }
    }

    [Fact]
    [Trait("control", "NIST-SC-7")]
    public void RenderConfig_ListensOnLoopback_RefusesAnonymous_AndDisablesNagle()
    {
        var config = MosquittoConfig.RenderConfig(18830, "/etc/ac/passwords", "/etc/ac/acl", "mosquitto").Split('\n');

        Assert.Contains("listener 18830 127.0.0.1", config);
        Assert.Contains("allow_anonymous false", config);
        Assert.Contains("password_file /etc/ac/passwords", config);
        Assert.Contains("acl_file /etc/ac/acl", config);
        Assert.Contains("use_username_as_clientid true", config);
        Assert.Contains("set_tcp_nodelay true", config);
        Assert.Contains("persistence false", config);
        Assert.Contains("log_dest stdout", config);
        Assert.Contains("user mosquitto", config);
        Assert.Contains($"max_queued_messages {MosquittoConfig.MaxQueuedMessages}", config);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public void RenderConfig_LimitsPayloadsToTheLargestAnyClientSends_AndFollowsARaisedServiceLimit()
    {
        var byDefault = MosquittoConfig.RenderConfig(18830, "/etc/ac/passwords", "/etc/ac/acl", "mosquitto").Split('\n');
        var raised = MosquittoConfig.RenderConfig(18830, "/etc/ac/passwords", "/etc/ac/acl", "mosquitto", serviceMaxPayloadBytes: 1_048_576).Split('\n');

        // Reader commands (fingerprint templates, 65536 bytes) are the largest messages unless the service allows more.
        Assert.Contains("message_size_limit 65536", byDefault);
        Assert.Contains("max_packet_size 69632", byDefault);
        Assert.Contains("message_size_limit 1048576", raised);
        Assert.Contains("max_packet_size 1052672", raised);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    [UnsupportedOSPlatform("windows")]
    public void Write_CreatesTheThreeFiles_ReadableOnlyByTheirOwner()
    {
        var directory = Directory.CreateTempSubdirectory("ac-mosquitto-config-").FullName;
        try
        {
            var files = MosquittoConfig.Write(Topology, Secrets, 18830, Path.Combine(directory, "new"), Topics);

            foreach (var file in new[] { files.ConfigFile, files.PasswordFile, files.AclFile })
            {
                Assert.True(Path.IsPathFullyQualified(file));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            var config = File.ReadAllLines(files.ConfigFile);
            Assert.Contains($"password_file {files.PasswordFile}", config);
            Assert.Contains($"acl_file {files.AclFile}", config);
            Assert.Contains($"user {Environment.UserName}", config);
            Assert.Equal(MosquittoConfig.RenderAcl(Topology, Topics), File.ReadAllText(files.AclFile));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void Write_OverAWorldReadableFile_LeavesItPrivate()
    {
        var directory = Directory.CreateTempSubdirectory("ac-mosquitto-config-").FullName;
        try
        {
            var passwords = Path.Combine(directory, MosquittoConfig.PasswordFileName);
            File.WriteAllText(passwords, "old");
            File.SetUnixFileMode(passwords, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

            MosquittoConfig.Write(Topology, Secrets, 18830, directory, Topics);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(passwords));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("rdr/1")]
    [InlineData("rdr+1")]
    [InlineData("rdr 1")]
    [InlineData(DeviceSecrets.ServiceUsername)]
    [Trait("control", "NIST-AC-3")]
    public void Write_DeviceIdThatCouldEscapeItsTopics_IsRejected(string badId)
    {
        var topology = Build(NewReader(badId));

        var error = Assert.Throws<ArgumentException>(() => MosquittoConfig.Write(topology, Secrets, 18830, Path.GetTempPath(), Topics));

        Assert.Contains(badId, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReferenceAcl_InDeploy_IsWhatTheGeneratorProducesForTheExampleSite() =>
        Assert.Equal(MosquittoConfig.RenderAcl(Topology, new AccessControl.Protocol.Topics()), File.ReadAllText(DeployFile("acl.example")));

    [Fact]
    [Trait("control", "NIST-SC-7")]
    public void ReferenceConfig_InDeploy_HasTheSameHardeningAsTheGenerator()
    {
        var reference = File.ReadAllLines(DeployFile("mosquitto.conf"));
        var generated = MosquittoConfig.RenderConfig(1883, "/etc/mosquitto/accesscontrol/passwords", "/etc/mosquitto/accesscontrol/acl", "mosquitto")
            .Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'));

        Assert.All(generated, line => Assert.Contains(line, reference));
    }

    private static Dictionary<string, List<string>> ParseAcl(string acl)
    {
        var blocks = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in acl.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            if (line.StartsWith("user ", StringComparison.Ordinal))
            {
                current = [];
                blocks.Add(line["user ".Length..], current);
            }
            else
            {
                Assert.NotNull(current);
                current.Add(line);
            }
        }

        return blocks;
    }
}
