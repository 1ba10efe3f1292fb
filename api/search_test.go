package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestSearchFoldsText checks that q= and the index fold text alike: marks
// (Arabic harakat and shadda, Latin accents, Hebrew points), compatibility
// forms, the tatweel and invisible joiners never decide a match, and never
// cause a 500; and that a q without any word is a 400 naming q.
func TestSearchFoldsText(t *testing.T) {
	e := newEnv(t)
	titles := map[string]string{
		"plain":    "Protest by supporters of محمد at the gate",
		"harakat":  "Convoy of مُحَمَّد attacked",
		"accents":  "Café bombing near the Résidence",
		"hebrew":   "Graffiti reading שָׁלוֹם on the wall",
		"ligature": "Drone ﬁred at the oﬃce",
		"persian":  "تظاهرات در می‌روم street", // with a zero-width non-joiner
		"tatweel":  "Rally for مـحـمـد downtown",
	}
	ids := map[string]int64{}
	for k, title := range titles {
		ids[k] = e.createIncident(44.36, 33.31, map[string]any{"title": title})
	}
	want := func(keys ...string) []int64 {
		var out []int64
		for _, k := range keys {
			out = append(out, ids[k])
		}
		slices.Sort(out)
		return out
	}
	muhammad := []string{"plain", "harakat", "tatweel"}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"مُحَمَّد", want(muhammad...)},
		{"محمد", want(muhammad...)},
		{"مـحـمـد", want(muhammad...)},
		{"مُ", nil}, // one letter and a mark: a word that matches nothing
		{"cafe", want("accents")},
		{"CAFÉ résidence", want("accents")},
		{"Cafe\u0301", want("accents")}, // decomposed é
		{"שלום", want("hebrew")},
		{"fired office", want("ligature")},
		{"ﬁred", want("ligature")},
		{"میروم", want("persian")},
		{"می‌روم", want("persian")},
		{"attacked \"convoy\"", want("harakat")},
		{"al-Asad OR NOT", nil},
	} {
		t.Run(tc.q, func(t *testing.T) {
			got := e.in(t).ids(incidentItems + "?q=" + url.QueryEscape(tc.q))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("q=%s matched %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	var steps []step
	for _, q := range []string{`"`, "😀", "!!!", "ـ", "\u0651", "\u200c", "--", "***", "\"\"", "🇮🇶"} {
		steps = append(steps, step{name: "q=" + strconv.Quote(q), method: "GET", url: incidentItems + "?q=" + url.QueryEscape(q),
			role: domain.RoleAnalyst, status: http.StatusBadRequest, field: "q"})
	}
	steps = append(steps,
		step{name: "an empty q is no filter", method: "GET", url: incidentItems + "?q=", role: domain.RoleAnalyst, status: 200},
		step{name: "stats take the same q", method: "GET", url: "/stats/incidents?group_by=type&q=" + url.QueryEscape("مُحَمَّد"), role: domain.RoleAnalyst, status: 200},
		step{name: "tiles take the same q", method: "GET", url: "/tiles/0/0/0.mvt?q=" + url.QueryEscape("😀"), role: domain.RoleAnalyst, status: 400, field: "q"},
	)
	e.runSteps(t, nil, steps)

	t.Run("a changed title is found by its new words only", func(t *testing.T) {
		e := e.in(t)
		item := incidentItems + "/" + strconv.FormatInt(ids["harakat"], 10)
		e.do("PATCH", item, `{"properties":{"title":"Convoy of عَلِيّ attacked"}}`, domain.RoleOfficer, "Content-Type", "application/merge-patch+json").wantStatus(http.StatusOK)
		if got := e.ids(incidentItems + "?q=" + url.QueryEscape("علي")); !slices.Equal(got, []int64{ids["harakat"]}) {
			t.Errorf("new words: %v", got)
		}
		got := e.ids(incidentItems + "?q=" + url.QueryEscape("محمد"))
		slices.Sort(got)
		if !slices.Equal(got, want("plain", "tatweel")) {
			t.Errorf("old words: %v", got)
		}
	})
}

// TestSearchLongWords: a word longer than PostgreSQL's 2,047-byte lexeme,
// in a body or made by folding a q=, is stored and searched on either
// engine, never a 500; the incident is found by its other words and by it.
func TestSearchLongWords(t *testing.T) {
	e := newEnv(t)
	long := "See http://example.org/" + strings.Repeat("a", 2100)
	kilo := strings.Repeat("㌕", 166) // folds to キロクラム: 498 bytes, one word of 2,490
	vars := map[string]string{}
	found := func(q, key string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			want, _ := strconv.ParseInt(vars[key], 10, 64)
			var got []int64
			for _, f := range r.json()["features"].([]any) {
				got = append(got, int64(f.(map[string]any)["id"].(float64)))
			}
			if !slices.Equal(got, []int64{want}) {
				t.Errorf("q=%.30s found %v, want [%d]", q, got, want)
			}
		}
	}
	keep := func(key string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			vars[key] = strconv.FormatFloat(r.json()["id"].(float64), 'f', -1, 64)
		}
	}
	e.runSteps(t, vars, []step{
		{name: "POST with a 2,100-byte word", method: "POST", url: incidentItems, role: domain.RoleOfficer, status: http.StatusCreated,
			body: incidentJSON(44.36, 33.31, map[string]any{"description": long}), check: keep("long")},
		{name: "POST", method: "POST", url: incidentItems, role: domain.RoleOfficer, status: http.StatusCreated,
			body: incidentJSON(44.36, 33.31, map[string]any{"description": "weighed"}), check: keep("kilo")},
		{name: "PUT with a word that folds to 2,490 bytes", method: "PUT", url: incidentItems + "/{kilo}", role: domain.RoleOfficer, status: http.StatusOK,
			body: incidentJSON(44.36, 33.31, map[string]any{"description": "weighed in " + kilo})},
		{name: "another word of the first", method: "GET", url: incidentItems + "?q=example", role: domain.RoleAnalyst, status: http.StatusOK,
			check: found("example", "long")},
		{name: "another word of the second", method: "GET", url: incidentItems + "?q=weighed", role: domain.RoleAnalyst, status: http.StatusOK,
			check: found("weighed", "kilo")},
		{name: "q= of the long folded word", method: "GET", url: incidentItems + "?q=" + url.QueryEscape(kilo), role: domain.RoleAnalyst, status: http.StatusOK,
			check: found(kilo, "kilo")},
	})
}
