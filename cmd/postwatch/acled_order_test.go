package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// acledMonadic is a row of a monadic export: the event's fields from base,
// one actor in actor1, none in actor2.
func acledMonadic(id string, base map[string]string, actor, inter string) string {
	set := maps.Clone(base)
	set["actor1"], set["inter1"], set["actor2"], set["inter2"] = actor, inter, "", ""
	return acledRowOf(id, set)
}

// TestImportACLEDRowOrder: the rows of one event build the same incident in
// any order. Each event is imported with its rows as given into one
// database and reversed into another: both must hold the wanted actors in
// the canonical order (perpetrators first, then by id) and the same
// original values, and importing the reversed file over the first database
// must leave every incident unchanged, without a new version.
func TestImportACLEDRowOrder(t *testing.T) {
	riot := map[string]string{"event_type": "Riots", "sub_event_type": "Mob violence", "interaction": "57", "iso": "404"}
	clash := map[string]string{"event_type": "Battles", "sub_event_type": "Armed clash", "interaction": "12"}
	intervention := map[string]string{"event_type": "Protests", "sub_event_type": "Protest with intervention", "interaction": "16"}
	force := map[string]string{"event_type": "Protests", "sub_event_type": "Excessive force against protesters", "interaction": "16"}
	strike := map[string]string{"event_type": "Explosions/Remote violence", "sub_event_type": "Air/drone strike", "interaction": "17"}
	tests := []struct {
		name string
		rows []string
		want []domain.IncidentActor
	}{
		{"mob violence: rioters against civilians", []string{
			acledMonadic("O1", riot, "Rioters (Kenya)", "5"),
			acledMonadic("O1", riot, "Civilians (Kenya)", "7"),
		}, []domain.IncidentActor{perp("rioters-kenya"), target("civilians-kenya")}},
		{"armed clash: a monadic file does not say who fired first, so both sides did", []string{
			acledMonadic("O2", clash, "Military Forces of Iraq (2018-)", "1"),
			acledMonadic("O2", clash, "Islamic State (Iraq)", "2"),
		}, []domain.IncidentActor{perp("islamic-state-iraq"), perp("military-forces-of-iraq-2018")}},
		{"protest with intervention: the protesters demonstrate, the police intervene", []string{
			acledMonadic("O3", intervention, "Police Forces of Iraq (2018-)", "1"),
			acledMonadic("O3", intervention, "Protesters (Iraq)", "6"),
		}, []domain.IncidentActor{perp("protesters-iraq"), target("police-forces-of-iraq-2018")}},
		{"excessive force: the police are the perpetrators", []string{
			acledMonadic("O4", force, "Protesters (Iraq)", "Protesters"),
			acledMonadic("O4", force, "Police Forces of Iraq (2018-)", "State forces"),
		}, []domain.IncidentActor{perp("police-forces-of-iraq-2018"), target("protesters-iraq")}},
		{"air strike on civilians with associated actors, three rows", []string{
			acledRowOf("O5", map[string]string{"event_type": "Explosions/Remote violence", "sub_event_type": "Air/drone strike", "interaction": "17",
				"actor1": "Military Forces of Russia (2000-)", "assoc_actor_1": "Wagner Group; Military Forces of Syria (2000-)", "inter1": "8", "actor2": "", "inter2": ""}),
			acledMonadic("O5", strike, "Civilians (Syria)", "7"),
			acledMonadic("O5", strike, "Health Workers (Syria)", "7"),
		}, []domain.IncidentActor{perp("military-forces-of-russia-2000"), perp("military-forces-of-syria-2000"), perp("wagner-group"),
			target("civilians-syria"), target("health-workers-syria")}},
		{"a dyadic event given twice with its sides swapped: both sides acted", []string{
			acledRowOf("O6", map[string]string{"actor1": "A Group", "inter1": "3", "actor2": "B Group", "inter2": "3", "interaction": "33"}),
			acledRowOf("O6", map[string]string{"actor1": "B Group", "inter1": "3", "actor2": "A Group", "inter2": "3", "interaction": "33"}),
		}, []domain.IncidentActor{perp("a-group"), perp("b-group")}},
		{"one dyadic row: associated actors sorted after their side's roles", []string{
			acledRowOf("O7", map[string]string{"actor1": "Zeta Militia", "assoc_actor_1": "Alpha Militia", "inter1": "3",
				"actor2": "Military Forces of Iraq (2018-)", "assoc_actor_2": "Police Forces of Iraq (2018-); Border Guard of Iraq", "inter2": "1"}),
		}, []domain.IncidentActor{perp("alpha-militia"), perp("zeta-militia"),
			target("border-guard-of-iraq"), target("military-forces-of-iraq-2018"), target("police-forces-of-iraq-2018")}},
	}
	var forward, reversed []string
	for _, tc := range tests {
		forward = append(forward, tc.rows...)
		r := slices.Clone(tc.rows)
		slices.Reverse(r)
		reversed = append(reversed, r...)
	}
	file := func(rows []string) string { return acledHeader + "\n" + strings.Join(rows, "\n") + "\n" }
	dbA, dbB := filepath.Join(t.TempDir(), "a.db"), filepath.Join(t.TempDir(), "b.db")
	created := fmt.Sprintf("%d created, 0 updated, 0 unchanged, 0 rejected", len(tests))
	for db, text := range map[string]string{dbA: file(forward), dbB: file(reversed)} {
		if stdout, _, err := acledImport(t, db, text); err != nil || !strings.Contains(stdout, created) {
			t.Fatalf("import (%v):\n%s", err, stdout)
		}
	}
	a, b := storedIncidents(t, dbA), storedIncidents(t, dbB)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("O%d", i+1)
			for name, got := range map[string]domain.Incident{"as given": a[id], "reversed": b[id]} {
				if !slices.Equal(got.Actors, tc.want) {
					t.Errorf("%s: actors %v, want %v", name, got.Actors, tc.want)
				}
			}
			if !maps.Equal(a[id].Original, b[id].Original) {
				t.Errorf("original differs with the row order:\n%v\n%v", a[id].Original, b[id].Original)
			}
		})
	}
	stdout, _, err := acledImport(t, dbA, file(reversed))
	if err != nil || !strings.Contains(stdout, fmt.Sprintf("0 created, 0 updated, %d unchanged, 0 rejected", len(tests))) {
		t.Fatalf("the reordered file changed something (%v):\n%s", err, stdout)
	}
	for id, inc := range storedIncidents(t, dbA) {
		if inc.Version != 1 {
			t.Errorf("%s: version %d after re-importing the reordered file, want 1", id, inc.Version)
		}
	}
}
