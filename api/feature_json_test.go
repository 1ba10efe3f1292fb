package api

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// marshalStream is what encoding/json writes for v in a stream with HTML
// escaping off, as the collection writer did before appendFeature.
func marshalStream(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// referenceProps is the API's incident properties as a tagged struct: the
// definition appendIncidentProps is held to.
type referenceProps struct {
	Type               domain.IncidentType      `json:"type"`
	Title              string                   `json:"title"`
	Description        string                   `json:"description"`
	OccurredAt         time.Time                `json:"occurred_at"`
	TimePrecision      domain.TimePrecision     `json:"time_precision"`
	LocationPrecision  domain.LocationPrecision `json:"location_precision"`
	Severity           int                      `json:"severity"`
	Status             domain.IncidentStatus    `json:"status"`
	Country            string                   `json:"country"`
	FacilityID         *int64                   `json:"facility_id"`
	Actors             []domain.IncidentActor   `json:"actors"`
	Casualties         domain.Casualties        `json:"casualties"`
	Sources            []domain.Source          `json:"sources"`
	Tags               []string                 `json:"tags"`
	ExternalID         *string                  `json:"external_id"`
	Original           map[string]string        `json:"original,omitempty"`
	CreatedAt          time.Time                `json:"created_at"`
	UpdatedAt          time.Time                `json:"updated_at"`
	Version            int                      `json:"version"`
	DistanceM          *float64                 `json:"distance_m,omitempty"`
	Attribution        *domain.Chain            `json:"attribution,omitempty"`
	PossibleDuplicates []int64                  `json:"possible_duplicates,omitempty"`
}

func reference(p *incidentProps) *referenceProps {
	inc := p.Incident
	return &referenceProps{
		Type: inc.Type, Title: inc.Title, Description: inc.Description, OccurredAt: inc.OccurredAt,
		TimePrecision: inc.TimePrecision, LocationPrecision: inc.LocationPrecision, Severity: inc.Severity,
		Status: inc.Status, Country: inc.Country, FacilityID: inc.FacilityID, Actors: inc.Actors,
		Casualties: inc.Casualties, Sources: inc.Sources, Tags: inc.Tags, ExternalID: inc.ExternalID,
		Original: inc.Original, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, Version: inc.Version,
		DistanceM: p.DistanceM, Attribution: p.Attribution, PossibleDuplicates: inc.PossibleDuplicates,
	}
}

// TestAppendFeatureMatchesEncodingJSON holds the hand-written encoder to
// encoding/json's bytes for the reference struct, on the fields and values
// that tempt a hand-written encoder into mistakes; it also checks that
// encoding/json itself (single features, alerts) writes the same bytes
// through incidentProps.MarshalJSON.
func TestAppendFeatureMatchesEncodingJSON(t *testing.T) {
	facility := int64(7)
	ext := "ACLED:IRQ1234"
	published := time.Date(2018, 9, 8, 6, 30, 0, 120_000_000, time.FixedZone("AST", 3*3600))
	dist := 1234.5
	tiny, huge := 1e-7, 1e21
	base := domain.Incident{
		Type: "indirect_fire", Title: "Rockets near the consulate", OccurredAt: time.Date(2018, 9, 8, 0, 0, 0, 0, time.UTC),
		TimePrecision: "day", LocationPrecision: "exact", Severity: 4, Status: "confirmed", Country: "IQ",
		Actors: []domain.IncidentActor{}, Sources: []domain.Source{}, Tags: []string{},
		CreatedAt: time.Date(2026, 11, 27, 7, 0, 0, 123_456_000, time.UTC), UpdatedAt: time.Date(2026, 11, 27, 7, 0, 1, 0, time.UTC), Version: 3,
	}
	with := func(d *float64, edit func(inc *domain.Incident)) *incidentProps {
		inc := base
		edit(&inc)
		return &incidentProps{Incident: &inc, DistanceM: d}
	}
	tests := []struct {
		name  string
		props any
		links []link
		coord [2]float64
	}{
		{"defaults", with(nil, func(*domain.Incident) {}), nil, [2]float64{47.7804, 30.5081}},
		{"every optional field", with(&dist, func(p *domain.Incident) {
			p.FacilityID, p.ExternalID = &facility, &ext
			p.Actors = []domain.IncidentActor{{ActorID: "kataib-hezbollah", Role: "suspect"}, {ActorID: "irgc-qf", Role: "sponsor"}}
			p.Sources = []domain.Source{{URL: "https://example.org/a?x=1&y=<2>", Title: "A", PublishedAt: &published}, {URL: "u", Title: ""}}
			p.Tags = []string{"basrah", "idf"}
			p.Original = map[string]string{"zeta": "z", "alpha": "a", "event_type": "Explosions/Remote violence"}
			p.Casualties = domain.Casualties{Killed: 2, Injured: 11}
		}), []link{{Href: "https://h/x?access_token=a&b=c", Rel: "self", Type: "application/geo+json"}, {Href: "/y", Rel: "alternate", Title: "HTML <view>"}}, [2]float64{-179.9999999, -89.5}},
		{"nil lists", with(nil, func(p *domain.Incident) { p.Actors, p.Sources, p.Tags = nil, nil, nil }), nil, [2]float64{0, 0}},
		{"text needing escapes", with(nil, func(p *domain.Incident) {
			p.Title = "quote \" backslash \\ slash / tab \t nl \n cr \r bell \a nul \x00 del \x7f"
			p.Description = "<script>&amp; \u2028 \u2029 é 漢字 🚀 bad utf-8 \xff\xfe end \xe2\x82"
			p.Country = ""
		}), nil, [2]float64{1e-7, 123.4567891}},
		{"extreme numbers", with(&tiny, func(p *domain.Incident) { p.Severity = math.MaxInt32 }), nil, [2]float64{-0.0000001, 90}},
		{"huge distance", with(&huge, func(*domain.Incident) {}), nil, [2]float64{180, -90}},
		{"with an attribution chain", func() *incidentProps {
			p := with(&dist, func(*domain.Incident) {})
			p.Attribution = &domain.Chain{ActorID: "irgc-qf", Path: []string{"irgc-qf", "kataib-hezbollah"}, Relations: []domain.RelationKind{"directs"}}
			return p
		}(), nil, [2]float64{47.7804, 30.5081}},
		{"with a direct match", func() *incidentProps {
			p := with(nil, func(*domain.Incident) {})
			p.Attribution = &domain.Chain{ActorID: "kh", Path: []string{"kh"}, Relations: []domain.RelationKind{}}
			return p
		}(), nil, [2]float64{47.7804, 30.5081}},
		{"facility properties take encoding/json", &facilityProps{Name: "U.S. Consulate General <Basrah>", Kind: "consulate"}, nil, [2]float64{47.78, 30.51}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := feature{Type: "Feature", ID: 42, Geometry: pointGeometry{Type: "Point", Coordinates: tc.coord}, Properties: tc.props, Links: tc.links}
			got, err := appendFeature(nil, &f)
			if err != nil {
				t.Fatal(err)
			}
			ref := f
			if p, ok := tc.props.(*incidentProps); ok {
				ref.Properties = reference(p)
			}
			if want := marshalStream(t, &ref); !bytes.Equal(got, want) {
				t.Errorf("appendFeature differs from encoding/json\n got %s\nwant %s", got, want)
			}
			if through := marshalStream(t, &f); !bytes.Equal(through, got) {
				t.Errorf("encoding/json through MarshalJSON differs\n got %s\nwant %s", through, got)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON: %s", got)
			}
		})
	}
}

// FuzzAppendString checks the string escaper against encoding/json on any
// input, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/\b\f\n\r\t", "\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff", "\xe2\x82", "é漢🚀",
		// long enough for the eight-byte path, a special byte at each place of a word
		"abcdefgh\"ijklmnopq", "abcdefghijklmn\\opq", "abcdefg\nhijklmnop", "a\x1fbcdefghijklmnop",
		"abcdefghijklmnoé", "abcdefgh\u2028ijklmnop", "abcdefghijklmno\xff", "plain ascii text, thirty-two b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString(nil, s), marshalStream(t, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

// FuzzAppendFloat checks the number format against encoding/json.
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, -0.0, 1, -1.5, 1e-6, 9.99e-7, 1e20, 1e21, 123.4567891, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Skip("encoding/json refuses these; coordinates and distances are finite")
		}
		if got, want := appendFloat(nil, v), marshalStream(t, v); !bytes.Equal(got, want) {
			t.Errorf("appendFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	})
}
