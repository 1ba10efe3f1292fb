package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
