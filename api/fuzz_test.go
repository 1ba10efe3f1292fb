package api_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// checkInvalid fails unless err is nil or an EINVALID error naming a field:
// hostile input must be refused with a message, never panic or go unnamed.
func checkInvalid(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error is not a domain error: %v", err)
	}
	if de.Code != domain.EINVALID && de.Code != domain.EPRECONDITION {
		t.Fatalf("code %s for bad input: %v", de.Code, err)
	}
	if len(de.Fields) == 0 || de.Fields[0].Field == "" {
		t.Fatalf("error names no field: %v", err)
	}
}

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"1,2,3,4", "170,-10,-170,10", "-180,-90,180,90", "1,2,3", "a,b,c,d", "1e309,0,0,0", "NaN,0,1,1", "0,5,1,4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := api.ParseBBox(s)
		checkInvalid(t, err)
		for _, b := range bs {
			if b.Min[1] > b.Max[1] || b.Min[0] > b.Max[0] || b.Min[0] < -180 || b.Max[0] > 180 {
				t.Fatalf("bbox %q parsed to an invalid bound %v", s, b)
			}
		}
	})
}

func FuzzParseDatetime(f *testing.F) {
	for _, s := range []string{"2018-09-07", "2018-09-01T00:00:00Z/..", "../2018-09-30", "2018-09-01/2018-09-07", "x", "../..", "2018-09-07T25:00:00Z", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := api.ParseDatetime(s)
		checkInvalid(t, err)
		if err == nil && r.Start != nil && r.End != nil && r.End.Before(*r.Start) {
			t.Fatalf("%q parsed to an interval ending before it starts", s)
		}
	})
}

func FuzzParseNear(f *testing.F) {
	f.Add("44.39,33.29", "5000")
	f.Add("181,0", "")
	f.Add("0,0", "-1")
	f.Add("0,0", "NaN")
	f.Fuzz(func(t *testing.T, near, radius string) {
		n, err := api.ParseNear(near, radius)
		checkInvalid(t, err)
		if err == nil && (n.RadiusM < 0 || n.RadiusM > domain.MaxRadius) {
			t.Fatalf("radius %q accepted as %g", radius, n.RadiusM)
		}
	})
}

func FuzzParsePage(f *testing.F) {
	f.Add("limit=10&offset=5")
	f.Add("limit=100000")
	f.Add("cursor=eyJrIjoxLCJpIjoyfQ")
	f.Add("cursor=%%%")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		p, err := api.ParsePage(q)
		checkInvalid(t, err)
		if err == nil && (p.Limit < 1 || p.Limit > domain.MaxLimit || p.Offset < 0) {
			t.Fatalf("%q parsed to page %+v", query, p)
		}
	})
}

func FuzzDecodeIncident(f *testing.F) {
	for _, s := range []string{
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[47.66,30.55]},"properties":{"type":"ied","title":"t","occurred_at":"2018-09-08T05:00:00Z"}}`,
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[47.66,95]},"properties":{}}`,
		`{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},"properties":{}}`,
		`{"type":"Feature","geometry":null,"properties":{"severity":"3"}}`,
		`[1,2]`, `{`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inc, err := api.DecodeIncident(data)
		checkInvalid(t, err)
		if err == nil {
			if verr := inc.Validate(); verr != nil {
				t.Fatalf("decoded incident does not validate: %v", verr)
			}
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(api.EncodeCursor(&domain.Cursor{Key: 1536364800000000, ID: 42}))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := api.DecodeCursor(s)
		checkInvalid(t, err)
		if err == nil && c.ID <= 0 {
			t.Fatalf("cursor %q decoded to id %d", s, c.ID)
		}
	})
}

func FuzzParseCQL(f *testing.F) {
	for _, s := range []string{"type = 'ied' AND severity >= 3", "NOT (country IN ('IQ','SY'))", "occurred_at BETWEEN DATE('2018-09-01') AND TIMESTAMP('2018-09-30T00:00:00Z')",
		"title LIKE '%rocket%' OR external_id IS NULL", "((((", "'", `"type" = 'x'`, "severity = 1e309",
		"TRUE", "3 < severity", `title = 'It''s \'x\''`, "CASEI(title) LIKE CASEI('basra%')", "ACCENTI(title) = ACCENTI('Ḥalab')",
		"S_INTERSECTS(geometry, POLYGON((47 30, 48 30, 48 31, 47 31, 47 30)))", "S_WITHIN(geometry, BBOX(170, -20, -170, 0))",
		"S_EQUALS(GEOMETRYCOLLECTION (POINT Z (1 2 3), LINESTRING (0 0, 1 1)), geometry)", "S_DISJOINT(geometry, MULTIPOINT((1 2), (3 4)))",
		"T_DURING(occurred_at, INTERVAL('2018-09-01', '..'))", "T_MEETS(INTERVAL(occurred_at, occurred_at), DATE('2018-09-08'))",
		"A_CONTAINS(tags, ('a', 'b'))", "A_EQUALS((), tags)", "Foo(geometry) = TRUE", "severity-1 > 0", strings.Repeat("NOT ", 100) + "TRUE"} {
		f.Add(s)
	}
	st := fuzzStore(f)
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := api.ParseCQL(s, domain.IncidentQueryables)
		checkInvalid(t, err)
		runFilter(t, st, expr)
	})
}

// fuzzStore is an empty store on which accepted filters run, so a filter
// the parser accepts but SQL refuses (a 500) fails the fuzz target.
func fuzzStore(f *testing.F) *sqlite.Store {
	st, err := sqlite.Open(filepath.Join(f.TempDir(), "fuzz.db"), sqlite.Options{Durability: sqlite.DurabilityNormal})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	return st
}

// runFilter runs an accepted filter on incidents and facilities' columns;
// any error is a failure.
func runFilter(t *testing.T, st *sqlite.Store, expr domain.Expr) {
	if expr == nil {
		return
	}
	if _, err := st.FindIncidents(context.Background(), domain.IncidentFilter{Where: expr, SortBy: domain.SortOccurredAtDesc}); err != nil {
		t.Fatalf("an accepted filter fails in SQL: %v", err)
	}
}

func FuzzParseCQL2JSON(f *testing.F) {
	for _, s := range []string{`true`, `{"op":"=","args":[{"property":"type"},"ied"]}`,
		`{"op":"and","args":[{"op":">=","args":[{"property":"severity"},3]},{"op":"like","args":[{"op":"casei","args":[{"property":"title"}]},"basra%"]}]}`,
		`{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[47,30],[48,30],[48,31],[47,30]]]}]}`,
		`{"op":"s_within","args":[{"property":"geometry"},{"bbox":[170,-20,-170,0]}]}`,
		`{"op":"t_during","args":[{"property":"occurred_at"},{"interval":["2018-09-01",".."]}]}`,
		`{"op":"in","args":[{"property":"type"},["ied","drone"]]}`, `{"op":"a_overlaps","args":[{"property":"tags"},["a"]]}`,
		`{"op":"isNull","args":[{"property":"country"}]}`, `{"op":"not","args":[{"op":"not","args":[false]}]}`, `{"op":`, `[]`, `null`} {
		f.Add(s)
	}
	st := fuzzStore(f)
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := api.ParseCQL2JSON(s, domain.IncidentQueryables)
		checkInvalid(t, err)
		runFilter(t, st, expr)
	})
}

func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2018-09-08T05:00:00Z", "2018-09-08t05:00:00z", "2016-12-31T23:59:60Z", "2018-09-08T05:00:00+00:60",
		"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999999-23:59", "2018-02-29T00:00:00Z", "2018-09-08T05:00:00.Z", "2018-09-08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := domain.ParseRFC3339(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC || got.Year() < domain.MinYear || got.Year() > domain.MaxYear {
			t.Fatalf("%q parsed to %v, outside UTC years %d-%d", s, got, domain.MinYear, domain.MaxYear)
		}
		// What it accepts, Go's own parser accepts in upper case, to the
		// same instant, except a leap second, which it refuses.
		if strings.Contains(s[17:19], "60") {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
		if err != nil || !want.Equal(got) {
			t.Fatalf("%q parsed to %v; time.Parse says %v, %v", s, got, want, err)
		}
		// Writing it back and reading it again gives the same instant.
		if again, err := domain.ParseRFC3339(got.Format(time.RFC3339Nano)); err != nil || !again.Equal(got) {
			t.Fatalf("%q: %v does not round-trip: %v, %v", s, got, again, err)
		}
	})
}

func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{"text/html;q=0, */*", "TEXT/HTML; Charset=UTF-8", "application/geo+json;q=0.9,text/*;q=0.1", ";;,", "*/html", "a/b;q=1.000;q=0", `text/html;x="a,b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range api.ParseAccept(s) {
			if r.Q < 0 || r.Q > 1 || r.Type == "" || r.Subtype == "" || r.Type != strings.ToLower(r.Type) || (r.Type == "*" && r.Subtype != "*") {
				t.Fatalf("%q gave the range %+v", s, r)
			}
		}
	})
}

func FuzzSearchWords(f *testing.F) {
	for _, s := range []string{"مُحَمَّد", "Café", "ﬁred", "\"", "😀", "al-Asad OR NOT", "می‌روم", "ـ", "\u0651", "a\u0300\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words := domain.SearchWords(s)
		for _, w := range words {
			if w == "" {
				t.Fatalf("%q gave an empty word", s)
			}
			// A word is folded already and splits no further: one FTS5 token.
			if again := domain.SearchWords(w); len(again) != 1 || again[0] != w {
				t.Fatalf("%q: word %q folds or splits again into %q", s, w, again)
			}
		}
		// Folding is idempotent, so the index and the query agree however
		// often text passes through it.
		if f1 := domain.FoldText(s); domain.FoldText(f1) != f1 {
			t.Fatalf("FoldText(%q) = %q is not a fixed point", s, f1)
		}
	})
}
