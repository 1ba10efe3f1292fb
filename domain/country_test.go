package domain_test

import (
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestCountries: one ISO 3166-1 list behind validation and every lookup an
// import makes.
func TestCountries(t *testing.T) {
	for code, want := range map[string]bool{"IQ": true, "XK": true, "SS": true, "AB": false, "ZZ": false, "EU": false, "UK": false, "iq": false, "": false} {
		if got := domain.IsCountry(code); got != want {
			t.Errorf("IsCountry(%q) = %v, want %v", code, got, want)
		}
	}
	lookups := []struct {
		name string
		got  string
		want string
	}{
		{"numeric", domain.CountryByNumeric("368"), "IQ"},
		{"numeric with leading zeros", domain.CountryByNumeric("004"), "AF"},
		{"numeric written as a float", domain.CountryByNumeric("728.0"), "SS"},
		{"numeric unassigned", domain.CountryByNumeric("999"), ""},
		{"numeric zero", domain.CountryByNumeric("0"), ""},
		{"numeric garbage", domain.CountryByNumeric("NA"), ""},
		{"alpha-3", domain.CountryByAlpha3("irq"), "IQ"},
		{"alpha-3 unknown", domain.CountryByAlpha3("ABC"), ""},
		{"name", domain.CountryByName("Iraq"), "IQ"},
		{"ACLED's name for CI", domain.CountryByName("Ivory Coast"), "CI"},
		{"ACLED's name for SZ", domain.CountryByName("eSwatini"), "SZ"},
		{"Republic of Congo is not the DRC", domain.CountryByName("Republic of Congo"), "CG"},
		{"the DRC", domain.CountryByName("Democratic Republic of Congo"), "CD"},
		{"Kosovo", domain.CountryByName("Kosovo"), "XK"},
		{"no ISO code", domain.CountryByName("Akrotiri and Dhekelia"), ""},
		{"empty name", domain.CountryByName(" "), ""},
	}
	for _, l := range lookups {
		if l.got != l.want {
			t.Errorf("%s: %q, want %q", l.name, l.got, l.want)
		}
	}
	inc := domain.Incident{Location: [2]float64{44, 33}, Type: "protest", Title: "t", OccurredAt: time.Now(), Country: "ab"}
	inc.ApplyDefaults()
	if err := inc.Validate(); err == nil {
		t.Error("country AB validated")
	}
}

// TestSameIncident: server-set fields and absent-versus-empty lists are no
// change; any field a client sets is.
func TestSameIncident(t *testing.T) {
	base := func() *domain.Incident {
		inc := &domain.Incident{Location: [2]float64{44, 33}, Type: "protest", Title: "t", OccurredAt: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC),
			Actors: []domain.IncidentActor{{ActorID: "a", Role: "perpetrator"}}, Original: map[string]string{"event_type": "Protests"}}
		inc.ApplyDefaults()
		return inc
	}
	stored := base()
	stored.ID, stored.Version, stored.CreatedAt, stored.UpdatedAt = 7, 3, time.Now(), time.Now()
	if !domain.SameIncident(stored, base()) {
		t.Error("an identical record with other server-set fields differs")
	}
	noTags := base()
	noTags.Tags = nil
	if !domain.SameIncident(stored, noTags) {
		t.Error("absent tags differ from empty tags")
	}
	changes := map[string]func(*domain.Incident){
		"title": func(i *domain.Incident) { i.Title = "u" },
		"actors": func(i *domain.Incident) {
			i.Actors = append(i.Actors, domain.IncidentActor{ActorID: "b", Role: "target"})
		},
		"role":     func(i *domain.Incident) { i.Actors[0].Role = "target" },
		"original": func(i *domain.Incident) { i.Original["event_type"] = "Riots" },
		"killed":   func(i *domain.Incident) { i.Casualties.Killed = 1 },
		"day":      func(i *domain.Incident) { i.OccurredAt = i.OccurredAt.AddDate(0, 0, 1) },
	}
	for name, change := range changes {
		next := base()
		change(next)
		if domain.SameIncident(stored, next) {
			t.Errorf("a change of %s is no change", name)
		}
	}
}
