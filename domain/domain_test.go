package domain_test

import (
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

func day(s string) *time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestAttributionWindows(t *testing.T) {
	rels := []domain.Relation{
		{SubjectID: "iran", Kind: "controls", TargetID: "irgc"},
		{SubjectID: "irgc", Kind: "controls", TargetID: "qf"},
		{SubjectID: "soleimani", Kind: "leads", TargetID: "qf", ValidFrom: day("1998-01-01"), ValidTo: day("2020-01-03")},
		{SubjectID: "qf", Kind: "directs", TargetID: "kh", ValidFrom: day("2010-01-01")},
		{SubjectID: "kh", Kind: "member_of", TargetID: "pmf"},
		{SubjectID: "qf", Kind: "allied_with", TargetID: "hezbollah"},
		{SubjectID: "kh", Kind: "sponsors", TargetID: "cell", ValidTo: day("2005-01-01")}, // ends before qf directs kh
	}
	tests := []struct {
		name    string
		roots   []string
		at      string
		attrib  []string // actors an incident at `at` is attributed through
		exclude []string
	}{
		{"the whole chain from a state", []string{"iran"}, "2018-09-08", []string{"iran", "irgc", "qf", "kh"}, []string{"pmf", "hezbollah", "cell", "soleimani"}},
		{"a leader's chain ends with his tenure", []string{"soleimani"}, "2021-01-01", []string{"soleimani"}, []string{"qf", "kh"}},
		{"a leader's chain during his tenure", []string{"soleimani"}, "2018-09-08", []string{"soleimani", "qf", "kh"}, []string{"irgc"}},
		{"before a relation began", []string{"qf"}, "2008-01-01", []string{"qf"}, []string{"kh"}},
		{"windows intersect along a path", []string{"qf"}, "2004-01-01", []string{"qf"}, []string{"kh", "cell"}},
		{"member_of is never followed upwards", []string{"pmf"}, "2018-09-08", []string{"pmf"}, []string{"kh", "qf"}},
		{"several roots", []string{"kh", "hezbollah"}, "2018-09-08", []string{"kh", "hezbollah"}, []string{"qf", "pmf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			windows := domain.AttributionWindows(tt.roots, rels)
			at := *day(tt.at)
			holds := func(actor string) bool {
				for _, w := range windows[actor] {
					if w.Contains(at) {
						return true
					}
				}
				return false
			}
			for _, a := range tt.attrib {
				if !holds(a) {
					t.Errorf("%s: no window of %v holds at %s", a, windows[a], tt.at)
				}
			}
			for _, a := range tt.exclude {
				if holds(a) {
					t.Errorf("%s is attributed at %s through %v", a, tt.at, windows[a])
				}
			}
		})
	}
}

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		have, need domain.Role
		want       bool
	}{
		{domain.RoleAnalyst, domain.RoleAnalyst, true},
		{domain.RoleAnalyst, domain.RoleOfficer, false},
		{domain.RoleOfficer, domain.RoleAnalyst, true},
		{domain.RoleOfficer, domain.RoleAdmin, false},
		{domain.RoleAdmin, domain.RoleOfficer, true},
		{"root", domain.RoleAnalyst, false},
		{domain.RoleAdmin, "root", false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"Kata'ib Hezbollah":           "kataib-hezbollah",
		"IRGC – Quds Force":           "irgc-quds-force",
		"  Asa’ib Ahl al-Haq  ":       "asaib-ahl-al-haq",
		"Harakat Hezbollah al-Nujaba": "harakat-hezbollah-al-nujaba",
	}
	for in, want := range tests {
		if got := domain.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIncidentValidateReportsEveryField(t *testing.T) {
	inc := domain.Incident{Location: [2]float64{200, 95}, Type: "rocket", Severity: 9, Country: "IRQ"}
	inc.ApplyDefaults()
	err := inc.Validate()
	de, ok := err.(*domain.Error)
	if !ok || de.Code != domain.EINVALID {
		t.Fatalf("Validate() = %v, want an EINVALID *Error", err)
	}
	fields := map[string]bool{}
	for _, f := range de.Fields {
		fields[f.Field] = true
	}
	for _, want := range []string{"geometry.coordinates", "properties.type", "properties.title", "properties.occurred_at", "properties.severity", "properties.country"} {
		if !fields[want] {
			t.Errorf("no problem reported for %s; got %v", want, de.Fields)
		}
	}
}

func TestThreatAssessment(t *testing.T) {
	now := time.Date(2018, 9, 28, 12, 0, 0, 0, time.UTC)
	inc := func(sev int, typ domain.IncidentType) domain.Incident {
		return domain.Incident{Severity: sev, Type: typ, Status: "reported"}
	}
	tests := []struct {
		name          string
		current, prev []domain.Incident
		level         domain.ThreatLevel
		trend         domain.ThreatTrend
	}{
		{"quiet", nil, nil, "low", "steady"},
		{"one minor report", []domain.Incident{inc(1, "protest")}, nil, "guarded", "rising"},
		{"three rocket strikes after a quiet day", []domain.Incident{inc(4, "indirect_fire"), inc(4, "indirect_fire"), inc(4, "indirect_fire")}, nil, "high", "rising"},
		{"one serious incident", []domain.Incident{inc(3, "ied")}, nil, "elevated", "rising"},
		{"a campaign", []domain.Incident{inc(5, "missile"), inc(4, "drone"), inc(4, "drone")}, []domain.Incident{inc(2, "threat")}, "severe", "rising"},
		{"calming down", []domain.Incident{inc(2, "protest")}, []domain.Incident{inc(4, "riot"), inc(3, "riot")}, "guarded", "falling"},
		{"the same again", []domain.Incident{inc(3, "ied")}, []domain.Incident{inc(3, "direct_fire")}, "elevated", "steady"},
		{"retracted reports do not count", []domain.Incident{{Severity: 5, Type: "missile", Status: "retracted"}}, nil, "low", "steady"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := domain.Summarize(now.Add(-24*time.Hour), now, tt.current)
			prev := domain.Summarize(now.Add(-48*time.Hour), now.Add(-24*time.Hour), tt.prev)
			if got := cur.Level(); got != tt.level {
				t.Errorf("level %s (score %d), want %s", got, cur.Score, tt.level)
			}
			if got := domain.Trend(cur, prev); got != tt.trend {
				t.Errorf("trend %s (scores %d then %d), want %s", got, prev.Score, cur.Score, tt.trend)
			}
		})
	}
}
