using AccessControl.Visitors;
using NodaTime;

namespace AccessControl.Tests.Visitors;

[Trait("control", "PCI-9.3.3")]
[Trait("control", "NIST-PE-8")]
public class DocumentRulesTests
{
    private static readonly LocalDate Today = new(2026, 12, 1);

    [Theory]
    [InlineData("passport", DocumentType.Passport)]
    [InlineData("id_card", DocumentType.IdCard)]
    [InlineData("driving_licence", DocumentType.DrivingLicence)]
    [InlineData("residence_permit", DocumentType.ResidencePermit)]
    public void Check_EachDocumentType_IsAccepted(string type, DocumentType expected)
    {
        var check = DocumentRules.Check(type, "DEU", "C01X00T47", "2030-01-31", Today);

        Assert.True(check.IsValid);
        Assert.Equal(expected, check.Document!.Type);
        Assert.Equal(type, DocumentRules.Code(expected));
    }

    [Fact]
    public void Check_NumberWithSpacesAndLowerCase_IsNormalized()
    {
        var check = DocumentRules.Check("passport", "fra", " 12ab-345 67 ", "2030-01-31", Today);

        Assert.True(check.IsValid);
        Assert.Equal("12AB34567", check.Document!.Number);
        Assert.Equal("4567", check.Document.LastFour);
        Assert.Equal("FRA", check.Document.IssuingCountry);
    }

    [Fact]
    public void Check_ExpiredYesterday_IsExpired_AndExpiringToday_IsValid()
    {
        Assert.True(DocumentRules.Check("id_card", "DEU", "L01X00T47", "2026-11-30", Today).Expired);
        Assert.True(DocumentRules.Check("id_card", "DEU", "L01X00T47", "2026-12-01", Today).IsValid);
    }

    [Theory]
    [InlineData("visa", "DEU", "C01X00T47", "2030-01-31", "type")]
    [InlineData(null, "DEU", "C01X00T47", "2030-01-31", "type")]
    [InlineData("Passport", "DEU", "C01X00T47", "2030-01-31", "type")]
    [InlineData("passport", "DE", "C01X00T47", "2030-01-31", "country")]
    [InlineData("passport", "DEY", "C01X00T47", "2030-01-31", "country")]
    [InlineData("passport", "D", "C01X00T47", "2030-01-31", "country")]
    [InlineData("passport", null, "C01X00T47", "2030-01-31", "country")]
    [InlineData("passport", "DEU", "C01", "2030-01-31", "number")]
    [InlineData("passport", "DEU", "C01X00T47C01X00T47C01", "2030-01-31", "number")]
    [InlineData("passport", "DEU", "C01X/00T47", "2030-01-31", "number")]
    [InlineData("passport", "DEU", "C01X00T4É", "2030-01-31", "number")]
    [InlineData("passport", "DEU", null, "2030-01-31", "number")]
    [InlineData("passport", "DEU", "C01X00T47", "31.01.2030", "expiry")]
    [InlineData("passport", "DEU", "C01X00T47", "2030-02-30", "expiry")]
    [InlineData("passport", "DEU", "C01X00T47", null, "expiry")]
    public void Check_MalformedField_IsNamed(string? type, string? country, string? number, string? expiry, string field)
    {
        var check = DocumentRules.Check(type, country, number, expiry, Today);

        Assert.False(check.IsValid);
        Assert.Null(check.Document);
        Assert.Equal(field, Assert.Single(check.Errors).Field);
    }

    [Fact]
    public void Check_ErrorMessages_NeverRepeatTheNumber()
    {
        var check = DocumentRules.Check("passport", "DEU", "SECRET/123456", "2030-01-31", Today);

        Assert.All(check.Errors, e => Assert.DoesNotContain("123456", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void ToString_HidesTheNumber()
    {
        var document = DocumentRules.Check("passport", "DEU", "C01X00T47", "2030-01-31", Today).Document!;

        Assert.Equal("passport DEU ****0T47 expires 2030-01-31", document.ToString());
        Assert.DoesNotContain("C01X00T47", document.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DEU")]
    [InlineData("USA")]
    [InlineData("GBR")]
    [InlineData("SSD")]
    [InlineData("UNO")]   // United Nations laissez-passer (ICAO 9303)
    [InlineData("XXA")]   // stateless person
    public void IsIssuingCountry_KnownCodes(string code)
    {
        Assert.True(CountryCodes.IsIssuingCountry(code));
    }

    [Fact]
    public void Alpha3_HasEveryIso3166Code()
    {
        Assert.Equal(249, CountryCodes.Alpha3.Count);
        Assert.All(CountryCodes.Alpha3, c => Assert.Matches("^[A-Z]{3}$", c));
    }
}
