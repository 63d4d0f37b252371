using System.Reflection;
using System.Text;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Docs;

/// <summary>
/// docs/compliance-matrix.md is generated from this suite: every test that demonstrates a security control carries
/// <c>[Trait("control", "&lt;id&gt;")]</c> (on the test or its class), and the matrix lists, per control, the tests that
/// demonstrate it. An auditor reads the matrix; these tests keep it true to the suite.
/// </summary>
public sealed class ComplianceMatrixTests
{
    private const string MatrixFile = "docs/compliance-matrix.md";
    private const string UpdateVariable = "AC_UPDATE_COMPLIANCE_MATRIX";

    /// <summary>Every control a trait may name: its framework and what it requires, in the standard's own words where short.</summary>
    private static readonly IReadOnlyList<Control> Catalogue =
    [
        new("NIST-AC-2", Nist, "Account management"),
        new("NIST-AC-3", Nist, "Access enforcement"),
        new("NIST-AC-5", Nist, "Separation of duties"),
        new("NIST-AC-6", Nist, "Least privilege"),
        new("NIST-AC-7", Nist, "Unsuccessful logon attempts"),
        new("NIST-AU-2", Nist, "Event logging"),
        new("NIST-AU-3", Nist, "Content of audit records"),
        new("NIST-AU-4", Nist, "Audit log storage capacity"),
        new("NIST-AU-5", Nist, "Response to audit logging process failures"),
        new("NIST-AU-6", Nist, "Audit record review, analysis, and reporting"),
        new("NIST-AU-8", Nist, "Time stamps"),
        new("NIST-AU-9", Nist, "Protection of audit information"),
        new("NIST-AU-10", Nist, "Non-repudiation"),
        new("NIST-AU-11", Nist, "Audit record retention"),
        new("NIST-AU-12", Nist, "Audit record generation"),
        new("NIST-CM-3", Nist, "Configuration change control"),
        new("NIST-CM-7", Nist, "Least functionality"),
        new("NIST-CP-9", Nist, "System backup"),
        new("NIST-CP-10", Nist, "System recovery and reconstitution"),
        new("NIST-IA-3", Nist, "Device identification and authentication"),
        new("NIST-IA-5", Nist, "Authenticator management"),
        new("NIST-IA-9", Nist, "Service identification and authentication"),
        new("NIST-PE-2", Nist, "Physical access authorizations"),
        new("NIST-PE-2(3)", Nist, "Physical access authorizations: restrict unescorted access"),
        new("NIST-PE-3", Nist, "Physical access control"),
        new("NIST-PE-6", Nist, "Monitoring physical access"),
        new("NIST-PE-8", Nist, "Visitor access records"),
        new("NIST-PS-4", Nist, "Personnel termination"),
        new("NIST-PS-5", Nist, "Personnel transfer"),
        new("NIST-SC-5", Nist, "Denial-of-service protection"),
        new("NIST-SC-7", Nist, "Boundary protection"),
        new("NIST-SC-8", Nist, "Transmission confidentiality and integrity"),
        new("NIST-SC-12", Nist, "Cryptographic key establishment and management"),
        new("NIST-SC-23", Nist, "Session authenticity"),
        new("NIST-SC-28", Nist, "Protection of information at rest"),
        new("NIST-SI-4", Nist, "System monitoring"),
        new("NIST-SI-10", Nist, "Information input validation"),
        new("NIST-SP800-63B-5.2.3", "NIST SP 800-63B", "Use of biometrics"),
        new("PCI-3.5", Pci, "Primary account number (PAN) is secured wherever it is stored (applied here to card numbers and identity documents at rest)"),
        new("PCI-4.2", Pci, "PAN is protected with strong cryptography during transmission (applied here to the readers' MQTT links)"),
        new("PCI-6.4", Pci, "Public-facing web applications are protected against attacks"),
        new("PCI-7.2", Pci, "Access to system components and data is appropriately defined and assigned (least privilege, by job function)"),
        new("PCI-8.3.4", Pci, "Invalid authentication attempts are limited"),
        new("PCI-9.2", Pci, "Physical access controls manage entry into facilities and systems containing cardholder data"),
        new("PCI-9.3.2", Pci, "Visitors are authorized before entering, escorted at all times, identified, and given a badge that expires"),
        new("PCI-9.3.3", Pci, "Visitor badges or identification are surrendered or deactivated before visitors leave or at expiry"),
        new("PCI-9.3.4", Pci, "A visitor log is used to maintain a physical record of visitor activity"),
        new("PCI-10.2", Pci, "Audit logs support the detection of anomalies and suspicious activity, and forensic analysis"),
        new("PCI-10.2.2", Pci, "Audit logs record, for each auditable event: user identification, type of event, date and time, success or failure, origination, identity of the affected data"),
        new("PCI-10.3", Pci, "Audit logs are protected from destruction and unauthorized modifications"),
        new("PCI-10.5", Pci, "Audit log history is retained and available for analysis"),
        new("PCI-10.6", Pci, "Time-synchronization mechanisms support consistent time settings"),
        new("PCI-10.7", Pci, "Failures of critical security control systems are detected, reported, and responded to promptly"),
        new("ISO27001-A.5.18", Iso, "Access rights"),
        new("ISO27001-A.7.3", Iso, "Securing offices, rooms and facilities"),
        new("ISO27001-A.8.15", Iso, "Logging"),
        new("ISO-IEC-24745", "ISO/IEC 24745", "Biometric information protection"),
        new("GDPR-5.1c", "GDPR (EU) 2016/679", "Data minimisation: personal data adequate, relevant and limited to what is necessary for the purpose"),
        new("NFPA-101", "NFPA 101", "Life safety code: free egress when the fire alarm sounds"),
        new("protocol-contract", "AccessControl", "The reader protocol documents (reader-protocol.md, asyncapi.yaml) match the wire code"),
    ];

    private const string Nist = "NIST SP 800-53 Rev. 5";
    private const string Pci = "PCI DSS v4.0";
    private const string Iso = "ISO/IEC 27001:2022 Annex A";

    [Fact]
    public void EveryControlTrait_NamesAControlOfTheCatalogue()
    {
        var known = Catalogue.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);

        var unknown = ControlledTests().Where(t => !known.Contains(t.Control)).Select(t => $"{t.Control} on {t.Class}.{t.Method}").Distinct().ToList();

        Assert.True(unknown.Count == 0, "Add these controls to ComplianceMatrixTests.Catalogue (framework and title): " + string.Join(", ", unknown));
    }

    [Fact]
    public void TheCommittedMatrix_ListsEveryTestThatDemonstratesAControl()
    {
        var path = Path.Combine(RepositoryRoot.Path, MatrixFile);
        var expected = Render(ControlledTests());
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1" && Environment.GetEnvironmentVariable("CI") != "true")
        {
            File.WriteAllText(path, expected);
        }

        var committed = File.Exists(path) ? File.ReadAllText(path) : "";

        Assert.True(committed == expected,
            $"{MatrixFile} is not the suite's: regenerate it with {UpdateVariable}=1 dotnet test tests/AccessControl.Tests --filter ComplianceMatrixTests, and commit it.");
    }

    [Fact]
    public void TheMatrix_GroupsTestsByControlAndFramework()
    {
        var tests = new List<ControlledTest>
        {
            new("NIST-PE-3", "Decisions.DecisionEngineTests", "Decide_WithARevokedCard_Denies"),
            new("NIST-PE-3", "Decisions.DecisionEngineTests", "Decide_OutsideTheSchedule_Denies"),
            new("PCI-9.3.2", "Visitors.VisitTests", "Approve_ByTheRequester_IsRefused"),
        };

        var matrix = Render(tests);

        Assert.Contains("| [NIST-PE-3](#nist-pe-3) | Physical access control | 2 |", matrix, StringComparison.Ordinal);
        Assert.Contains("| [PCI-9.3.2](#pci-932) | Visitors are authorized before entering", matrix, StringComparison.Ordinal);
        Assert.Contains("- `Decisions.DecisionEngineTests`: `Decide_OutsideTheSchedule_Denies`, `Decide_WithARevokedCard_Denies`", matrix, StringComparison.Ordinal);
        Assert.True(matrix.IndexOf("## NIST SP 800-53", StringComparison.Ordinal) < matrix.IndexOf("## PCI DSS", StringComparison.Ordinal));
        Assert.DoesNotContain("NIST-AU-9", matrix, StringComparison.Ordinal);
    }

    /// <summary>Every (control, test) pair of this assembly: traits on a test method, and on its class for each of its tests.</summary>
    private static List<ControlledTest> ControlledTests()
    {
        var found = new List<ControlledTest>();
        foreach (var type in typeof(ComplianceMatrixTests).Assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract))
        {
            var classControls = Controls(type);
            var className = type.FullName!.Replace("AccessControl.Tests.", "", StringComparison.Ordinal).Replace('+', '.');
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (!method.GetCustomAttributes<FactAttribute>().Any())
                {
                    continue;
                }

                found.AddRange(classControls.Concat(Controls(method)).Distinct().Select(c => new ControlledTest(c, className, method.Name)));
            }
        }

        return found;
    }

    private static IEnumerable<string> Controls(MemberInfo member) =>
        member.GetCustomAttributesData()
            .Where(a => a.AttributeType == typeof(TraitAttribute) && a.ConstructorArguments.Count == 2 && (string?)a.ConstructorArguments[0].Value == "control")
            .Select(a => (string)a.ConstructorArguments[1].Value!);

    private static string Render(IReadOnlyCollection<ControlledTest> tests)
    {
        var byControl = tests.GroupBy(t => t.Control).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var controls = Catalogue.Where(c => byControl.ContainsKey(c.Id)).ToList();
        var text = new StringBuilder();
        text.Append("""
            # Compliance matrix

            Which tests demonstrate which control. Generated from the test suite, not written by hand: a test that
            demonstrates a security control carries `[Trait("control", "<id>")]`, and `tests/run.sh` fails when this file
            no longer matches the suite (`tests/AccessControl.Tests/Docs/ComplianceMatrixTests.cs`). Regenerate it with
            `AC_UPDATE_COMPLIANCE_MATRIX=1 dotnet test tests/AccessControl.Tests --filter ComplianceMatrixTests`.

            Each test's name says the behaviour it holds the service to (`Subject_Situation_Outcome`); its class and file
            are under `tests/AccessControl.Tests/` (`EndToEnd.EscortTests` is `EndToEnd/EscortTests.cs`). Tests in `EndToEnd`
            and `Chaos` run the service over a real MQTT broker with a real SQLite file; those that take a `BrokerKind` run
            once on the embedded broker and once on Mosquitto. CI runs them all on every change.


            """);
        text.Append($"{controls.Count} controls, {tests.Count} tests (a test that demonstrates two controls counts under each).\n\n");
        text.Append("| control | what it requires | tests |\n|---|---|---:|\n");
        foreach (var control in controls)
        {
            text.Append($"| [{control.Id}](#{Anchor(control)}) | {control.Title} | {byControl[control.Id].Count} |\n");
        }

        foreach (var framework in controls.GroupBy(c => c.Framework))
        {
            text.Append($"\n## {framework.Key}\n");
            foreach (var control in framework)
            {
                text.Append($"\n### {control.Id}\n\n{control.Title}.\n\n");
                foreach (var byClass in byControl[control.Id].GroupBy(t => t.Class).OrderBy(g => g.Key, StringComparer.Ordinal))
                {
                    var methods = byClass.Select(t => $"`{t.Method}`").Distinct().Order(StringComparer.Ordinal);
                    text.Append($"- `{byClass.Key}`: {string.Join(", ", methods)}\n");
                }
            }
        }

        return text.ToString();
    }

    /// <summary>The anchor GitHub gives the control's heading ("### NIST-PE-2(3)" is #nist-pe-23, "### PCI-9.3.2" #pci-932).</summary>
    private static string Anchor(Control control)
    {
        var heading = control.Id.ToLowerInvariant();
        var anchor = new StringBuilder();
        foreach (var c in heading)
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                anchor.Append(c);
            }
            else if (c == ' ')
            {
                anchor.Append('-');
            }
        }

        return anchor.ToString();
    }

    private sealed record Control(string Id, string Framework, string Title);

    private sealed record ControlledTest(string Control, string Class, string Method);
}
