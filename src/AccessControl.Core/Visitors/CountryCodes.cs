using System.Collections.Frozen;

namespace AccessControl.Visitors;

/// <summary>
/// Issuing-country codes accepted on identity documents: the 249 ISO 3166-1 alpha-3 codes, plus the ICAO 9303 codes
/// for documents not issued by a state (United Nations, stateless persons, refugees, Kosovo's <c>RKS</c>, ...).
/// </summary>
/// <remarks>
/// Checked against the list, not just three letters, so that a typo (<c>DEY</c>) is caught at the desk rather than
/// stored. Germany is <c>DEU</c> here, although German machine-readable zones print <c>D</c>.
/// </remarks>
public static class CountryCodes
{
    private const string Iso3166Alpha3 =
        "ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE " +
        "BDI BEL BEN BES BFA BGD BGR BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA " +
        "CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE " +
        "DEU DJI DMA DNK DOM DZA " +
        "ECU EGY ERI ESH ESP EST ETH " +
        "FIN FJI FLK FRA FRO FSM " +
        "GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY " +
        "HKG HMD HND HRV HTI HUN " +
        "IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA " +
        "JAM JEY JOR JPN " +
        "KAZ KEN KGZ KHM KIR KNA KOR KWT " +
        "LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA " +
        "MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT " +
        "NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL " +
        "OMN " +
        "PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF " +
        "QAT " +
        "REU ROU RUS RWA " +
        "SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR " +
        "TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA " +
        "UGA UKR UMI URY USA UZB " +
        "VAT VCT VEN VGB VIR VNM VUT " +
        "WLF WSM " +
        "YEM " +
        "ZAF ZMB ZWE";

    /// <summary>ICAO 9303 codes of documents issued by organizations, or to stateless persons and refugees.</summary>
    private const string Icao9303Additions = "EUE RKS UNA UNK UNO XOM XPO XXA XXB XXC XXX";

    private static readonly FrozenSet<string> Iso = Iso3166Alpha3.Split(' ').ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> Issuers = Iso.Concat(Icao9303Additions.Split(' ')).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The ISO 3166-1 alpha-3 codes (249).</summary>
    public static IReadOnlyCollection<string> Alpha3 => Iso;

    /// <summary>Whether <paramref name="code"/> (upper case) is an accepted issuing country of a document.</summary>
    public static bool IsIssuingCountry(string? code) => code is not null && Issuers.Contains(code);
}
