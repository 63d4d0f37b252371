using AccessControl.Tests.Support;

namespace AccessControl.Tests.Deploy;

/// <summary>
/// What the service and the tools write into a checkout (a data folder: keys, entry log, outage journal, checkpoints;
/// a PKI folder: private keys) is never offered to a commit: <c>git add -A</c> after a run from any folder of the
/// checkout would otherwise put the provisioning, PII, HR-feed and signing keys in the repository's history.
/// </summary>
public sealed class RepositoryIgnoreTests
{
    [Theory]
    [Trait("control", "NIST-IA-5")]
    [Trait("control", "NIST-SC-28")]
    // `accesscontrol run` (data folder `data` in the working directory) started from the project's folder
    [InlineData("src/AccessControl/data/provisioning.key")]
    [InlineData("src/AccessControl/data/pii.key")]
    [InlineData("src/AccessControl/data/hr-feed.key")]
    [InlineData("src/AccessControl/data/log-signing.key")]
    [InlineData("src/AccessControl/data/fingerprint.keys")]
    [InlineData("src/AccessControl/data/entry-log.outage")]
    [InlineData("src/AccessControl/data/checkpoints/entry-log.checkpoints.jsonl")]
    [InlineData("src/AccessControl/data/accesscontrol.db")]
    // `--data` a folder of another name, or key files moved aside by hand
    [InlineData("lab-run/provisioning.key")]
    [InlineData("lab-run/pii.key")]
    [InlineData("lab-run/fingerprint.keys")]
    [InlineData("lab-run/entry-log.outage")]
    [InlineData("hr-feed.key.new")]
    // deploy/pki/issue-certs.sh (DIR defaults to ./pki)
    [InlineData("pki/ca.key")]
    [InlineData("deploy/pki/pki/devices/rdr-dh1-in.key")]
    public async Task WhatARunWritesIntoTheCheckout_KeysAndTheLog_IsIgnoredByGit(string path)
    {
        var (exit, output) = await ProgramRun.RunAsync("git", ["-C", RepositoryRoot.Path, "check-ignore", "--no-index", "-v", path], TimeSpan.FromSeconds(30));

        Assert.True(exit == 0, $"git would commit {path}: {output}");
    }
}
