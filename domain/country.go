package domain

import (
	"strconv"
	"strings"

	"github.com/biter777/countries"
)

// Countries are ISO 3166-1 as github.com/biter777/countries keeps it: the
// 249 officially assigned alpha-2 codes plus XK (Kosovo), the user-assigned
// code the EU, ACLED and most data sets use. Every country postwatch
// accepts or derives goes through this one list, so the API refuses what
// an import could never produce and an import produces nothing the API
// would refuse.
var countryCodes, countryAlpha3 = func() (map[string]countries.CountryCode, map[string]string) {
	codes, alpha3 := map[string]countries.CountryCode{}, map[string]string{}
	for _, c := range countries.All() {
		if a2 := c.Alpha2(); isAlpha2Shape(a2) {
			codes[a2] = c
			alpha3[c.Alpha3()] = a2
		}
	}
	return codes, alpha3
}()

func isAlpha2Shape(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// IsCountry reports whether code is an ISO 3166-1 alpha-2 code in use
// (upper case, as ApplyDefaults leaves it): "IQ" is, "AB" is not.
func IsCountry(code string) bool {
	_, ok := countryCodes[code]
	return ok
}

// CountryByNumeric returns the alpha-2 code of an ISO 3166-1 numeric code
// ("368" or "368.0", leading zeros allowed), or "" when none is assigned.
func CountryByNumeric(numeric string) string {
	numeric = strings.TrimSuffix(strings.TrimSpace(numeric), ".0")
	n, err := strconv.Atoi(numeric)
	if err != nil || n <= 0 {
		return ""
	}
	return known(countries.ByNumeric(n))
}

// CountryByAlpha3 returns the alpha-2 code of an ISO 3166-1 alpha-3 code
// ("IRQ", any case), or "".
func CountryByAlpha3(alpha3 string) string {
	return countryAlpha3[strings.ToUpper(strings.TrimSpace(alpha3))]
}

// CountryByName returns the alpha-2 code of an English country name
// ("Iraq", "Ivory Coast", "eSwatini"), or "". The library knows common
// alternative spellings; countryNames adds the few that data sets such as
// ACLED write and the library reads wrongly or not at all.
func CountryByName(name string) string {
	key := strings.ToLower(strings.Join(strings.Fields(name), " "))
	if key == "" {
		return ""
	}
	if a2, ok := countryNames[key]; ok {
		return a2
	}
	return known(countries.ByName(name))
}

// countryNames are names the library misreads ("Republic of Congo" as the
// Democratic Republic) or lacks, as ACLED spells them.
var countryNames = map[string]string{
	"republic of congo":                            "CG",
	"congo":                                        "CG",
	"congo-brazzaville":                            "CG",
	"democratic republic of congo":                 "CD",
	"democratic republic of the congo":             "CD",
	"congo-kinshasa":                               "CD",
	"bailiwick of guernsey":                        "GG",
	"bailiwick of jersey":                          "JE",
	"saint helena, ascension and tristan da cunha": "SH",
	"united states virgin islands":                 "VI",
}

// known returns c's alpha-2 code when it is one of countryCodes.
func known(c countries.CountryCode) string {
	if a2 := c.Alpha2(); IsCountry(a2) {
		return a2
	}
	return ""
}
