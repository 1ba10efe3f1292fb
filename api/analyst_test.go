package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// basrahGraph stores the seed's chain of command above the Quds Force and
// the two incidents of the walk-through in docs/api.md: rockets at Basra
// airport with the Quds Force suspected, and the Iranian consulate burned
// by protesters with Iran as the target.
func basrahGraph(e *env) named {
	for _, a := range [][2]string{{"iran", "state"}, {"irgc", "state_agency"}, {"irgc-qf", "state_agency"},
		{"kataib-hezbollah", "militia"}, {"us-dos", "state_agency"}, {"basra-protesters", "unknown"}} {
		e.do("POST", "/actors", map[string]any{"id": a[0], "name": a[0], "kind": a[1]}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	relate := func(subject, kind, target string, from any) {
		e.do("POST", "/actors/"+subject+"/relations", map[string]any{"kind": kind, "target_id": target, "valid_from": from},
			domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	relate("iran", "controls", "irgc", "1979-05-05T00:00:00Z")
	relate("irgc", "controls", "irgc-qf", nil)
	relate("irgc-qf", "sponsors", "kataib-hezbollah", nil)
	// A longer way to the Quds Force, which the shortest chain must not take.
	relate("iran", "sponsors", "kataib-hezbollah", nil)
	relate("kataib-hezbollah", "facilitates", "irgc-qf", nil)
	by := func(id, role string) map[string]any { return map[string]any{"actor_id": id, "role": role} }
	ids := named{}
	ids["rockets"] = e.createIncident(47.6625, 30.5489, map[string]any{"title": "Three Katyusha rockets hit Basra airport",
		"type": "indirect_fire", "occurred_at": "2018-09-08T05:00:00Z", "actors": []any{by("us-dos", "target"), by("irgc-qf", "suspected")}})
	ids["consulate"] = e.createIncident(47.8, 30.5, map[string]any{"title": "Protesters set fire to the Iranian consulate",
		"type": "arson", "occurred_at": "2018-09-07T00:00:00Z", "actors": []any{by("basra-protesters", "perpetrator"), by("iran", "target")}})
	ids["kh"] = e.createIncident(44.4, 33.3, map[string]any{"title": "KH claims a drone", "type": "drone",
		"occurred_at": "2018-09-10T00:00:00Z", "actors": []any{by("kataib-hezbollah", "claimant")}})
	return ids
}

// TestChainAttributionShown: under attribution=chain every feature says
// which actor asked for it answers to, through which shortest chain valid
// at its time; a target is never responsible.
func TestChainAttributionShown(t *testing.T) {
	e := newEnv(t)
	ids := basrahGraph(e)
	type chain struct {
		ActorID   string   `json:"actor_id"`
		Path      []string `json:"path"`
		Relations []string `json:"relations"`
	}
	tests := []struct {
		name, query string
		want        map[string]chain // by fixture name; nil chain: no attribution property
	}{
		{"through the chain of command", "actor=iran&attribution=chain", map[string]chain{
			"rockets": {"iran", []string{"iran", "irgc", "irgc-qf"}, []string{"controls", "controls"}},
			"kh":      {"iran", []string{"iran", "kataib-hezbollah"}, []string{"sponsors"}},
		}},
		{"a direct match is a path of one", "actor=irgc-qf&attribution=chain", map[string]chain{
			"rockets": {"irgc-qf", []string{"irgc-qf"}, []string{}},
			"kh":      {"irgc-qf", []string{"irgc-qf", "kataib-hezbollah"}, []string{"sponsors"}},
		}},
		{"the nearest of two roots", "actor=iran,irgc-qf&attribution=chain", map[string]chain{
			"rockets": {"irgc-qf", []string{"irgc-qf"}, []string{}},
			"kh":      {"iran", []string{"iran", "kataib-hezbollah"}, []string{"sponsors"}},
		}},
		{"actor_role narrows the roles at the end of the chain", "actor=iran&attribution=chain&actor_role=claimant", map[string]chain{
			"kh": {"iran", []string{"iran", "kataib-hezbollah"}, []string{"sponsors"}},
		}},
		{"before the relation held, no chain", "actor=iran&attribution=chain&datetime=..%2F1979-01-01", map[string]chain{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			body := e.items("/collections/incidents/items?" + tt.query)
			got := map[int64]chain{}
			for _, f := range featuresOf(body) {
				a, ok := f["properties"].(map[string]any)["attribution"].(map[string]any)
				if !ok {
					t.Fatalf("feature %v has no attribution: %v", f["id"], f["properties"])
				}
				var c chain
				c.ActorID = a["actor_id"].(string)
				for _, p := range a["path"].([]any) {
					c.Path = append(c.Path, p.(string))
				}
				c.Relations = []string{}
				for _, r := range a["relations"].([]any) {
					c.Relations = append(c.Relations, r.(string))
				}
				got[int64(f["id"].(float64))] = c
			}
			if len(got) != len(tt.want) {
				t.Fatalf("features %v, want %v", got, tt.want)
			}
			for name, want := range tt.want {
				c, ok := got[ids[name]]
				if !ok || c.ActorID != want.ActorID || !slices.Equal(c.Path, want.Path) || !slices.Equal(c.Relations, want.Relations) {
					t.Errorf("%s: attribution %+v, want %+v", name, c, want)
				}
			}
		})
	}

	t.Run("a feature read with its chain can be written back", func(t *testing.T) {
		e := e.with(t)
		f := featuresOf(e.items("/collections/incidents/items?actor=iran&attribution=chain&limit=1"))[0]
		if f["properties"].(map[string]any)["attribution"] == nil {
			t.Fatal("no chain to send back")
		}
		e.do("PUT", fmt.Sprintf("/collections/incidents/items/%v", f["id"]), f, domain.RoleOfficer).wantStatus(http.StatusOK)
	})

	t.Run("direct attribution counts a target and shows no chain", func(t *testing.T) {
		e := e.with(t)
		body := e.items("/collections/incidents/items?actor=iran")
		if got := idsOf(body); !slices.Equal(got, []int64{ids["consulate"]}) {
			t.Fatalf("ids %v, want the consulate %d", got, ids["consulate"])
		}
		if _, ok := featuresOf(body)[0]["properties"].(map[string]any)["attribution"]; ok {
			t.Fatal("a direct match carries an attribution chain")
		}
	})

	t.Run("CSV appends the chain in words", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/collections/incidents/items?f=csv&actor=iran&attribution=chain&sortby=occurred_at", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
		if err != nil || len(rows) != 3 {
			t.Fatalf("%d rows (%v):\n%s", len(rows), err, r.Body.String())
		}
		if h := rows[0]; len(h) != 15 || h[13] != "external_id" || h[14] != "attribution" {
			t.Fatalf("header %q", h)
		}
		if got := rows[1][14]; got != "iran controls irgc controls irgc-qf" {
			t.Errorf("rockets' attribution cell %q", got)
		}
		plain := e.do("GET", "/collections/incidents/items?f=csv&actor=iran", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if head, _, _ := strings.Cut(plain.Body.String(), "\r\n"); strings.Contains(head, "attribution") {
			t.Errorf("a direct query's CSV has an attribution column: %s", head)
		}
	})

	t.Run("HTML shows the chain", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/collections/incidents/items?f=html&actor=iran&attribution=chain", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if !strings.Contains(r.Body.String(), "attributed: iran controls irgc controls irgc-qf") {
			t.Errorf("the page does not show the chain:\n%s", r.Body.String())
		}
	})

	for _, bad := range []struct{ name, query, field string }{
		{"actor_role without actor", "actor_role=perpetrator", "actor_role"},
		{"unknown role", "actor=iran&actor_role=bystander", "actor_role"},
		{"only target under chain", "actor=iran&attribution=chain&actor_role=target", "actor_role"},
	} {
		t.Run("400 "+bad.name, func(t *testing.T) {
			e.with(t).do("GET", "/collections/incidents/items?"+bad.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, bad.field)
		})
	}
}

// TestChainOverManyRelationWindows: a thousand relation windows on one
// actor (an officer can post them in seconds) once reached SQLite's
// expression-depth limit and broke attribution=chain for everyone; the
// windows are data now, and the answer is exact.
func TestChainOverManyRelationWindows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, id := range []string{"patron", "proxy"} {
		if err := e.store.CreateActor(ctx, &domain.Actor{ID: id, Name: id, Kind: "armed_group"}); err != nil {
			t.Fatal(err)
		}
	}
	// Day-long windows every other day from 2018-01-01: day 2k is covered.
	start := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	const windows = 1000
	for k := 0; k < windows; k++ {
		from, to := start.AddDate(0, 0, 2*k), start.AddDate(0, 0, 2*k+1)
		if err := e.store.CreateRelation(ctx, &domain.Relation{SubjectID: "patron", Kind: "directs", TargetID: "proxy", ValidFrom: &from, ValidTo: &to}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(day int) string { return start.AddDate(0, 0, day).Add(12 * time.Hour).Format(time.RFC3339) }
	actors := []any{map[string]any{"actor_id": "proxy", "role": "perpetrator"}}
	inside := []int64{
		e.createIncident(44, 33, map[string]any{"occurred_at": at(0), "actors": actors}),
		e.createIncident(44, 33, map[string]any{"occurred_at": at(2 * (windows - 1)), "actors": actors}),
		e.createIncident(44, 33, map[string]any{"occurred_at": at(1000), "actors": actors}),
	}
	e.createIncident(44, 33, map[string]any{"occurred_at": at(1), "actors": actors})
	e.createIncident(44, 33, map[string]any{"occurred_at": at(2*windows + 1), "actors": actors})
	e.wantSet("/collections/incidents/items?actor=patron&attribution=chain", inside...)
	body := e.items("/collections/incidents/items?actor=patron&attribution=chain&limit=1")
	a := featuresOf(body)[0]["properties"].(map[string]any)["attribution"].(map[string]any)
	if fmt.Sprint(a["path"]) != "[patron proxy]" {
		t.Errorf("attribution %v", a)
	}
	r := e.do("GET", "/stats/incidents?group_by=type&actor=patron&attribution=chain", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if !strings.Contains(r.Body.String(), `"count":3`) {
		t.Errorf("stats under the chain: %s", r.Body.String())
	}
}

// TestItemsShapeAndQueryableParams: properties=, skipGeometry= and every
// queryable as a query parameter, with their bad values.
func TestItemsShapeAndQueryableParams(t *testing.T) {
	e := newEnv(t)
	a := e.createIncident(44, 33, map[string]any{"title": "Rockets, three", "time_precision": "day", "casualties": map[string]any{"killed": 3, "injured": 1}})
	b := e.createIncident(45, 34, map[string]any{"title": "Drone", "casualties": map[string]any{"killed": 0, "injured": 1}})
	fac := e.createFacility(47.66, 30.55, "Consulate General Basrah")

	t.Run("properties selects, in the order given", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/collections/incidents/items?properties=title,casualties&sortby=id", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"properties":{"title":"Rockets, three","casualties":{"killed":3,"injured":1}}`) {
			t.Fatalf("body %s", r.Body.String())
		}
		f := featuresOf(r.json())[0]
		if f["id"].(float64) != float64(a) || f["geometry"] == nil {
			t.Errorf("id or geometry dropped: %v", f)
		}
	})
	t.Run("skipGeometry", func(t *testing.T) {
		e := e.with(t)
		for _, f := range featuresOf(e.items("/collections/incidents/items?skipGeometry=true")) {
			if g, ok := f["geometry"]; !ok || g != nil {
				t.Fatalf("geometry %v, want null", g)
			}
		}
		for _, f := range featuresOf(e.items("/collections/facilities/items?skipGeometry=false&properties=name")) {
			if f["geometry"] == nil || len(f["properties"].(map[string]any)) != 1 {
				t.Fatalf("feature %v", f)
			}
		}
	})
	queries := []struct {
		name, url string
		want      []int64
	}{
		{"killed", "/collections/incidents/items?killed=3", []int64{a}},
		{"injured", "/collections/incidents/items?injured=1", []int64{a, b}},
		{"time_precision", "/collections/incidents/items?time_precision=day", []int64{a}},
		{"title, exactly", "/collections/incidents/items?title=" + url.QueryEscape("Rockets, three"), []int64{a}},
		{"with filter", "/collections/incidents/items?injured=1&filter=" + url.QueryEscape("killed = 0"), []int64{b}},
		{"facility city", "/collections/facilities/items?city=Basrah", []int64{fac}},
		{"facility alert radius", "/collections/facilities/items?alert_radius_m=5000", []int64{fac}},
	}
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) { e.with(t).wantSet(tt.url, tt.want...) })
	}
	for _, bad := range []struct{ query, field string }{
		{"/collections/incidents/items?properties=title,bogus", "properties"},
		{"/collections/incidents/items?properties=", "properties"},
		{"/collections/facilities/items?properties=severity", "properties"},
		{"/collections/incidents/items?skipGeometry=yes", "skipGeometry"},
		{"/collections/incidents/items?killed=three", "killed"},
		{"/collections/incidents/items?killed=1.5", "killed"},
		{"/collections/incidents/items?time_precision=week", "time_precision"},
		{"/collections/incidents/items?occurred_at=yesterday", "occurred_at"},
		{"/collections/incidents/items?title=", "title"},
		{"/collections/facilities/items?alert_radius_m=NaN", "alert_radius_m"},
	} {
		t.Run("400 "+bad.query, func(t *testing.T) {
			e.with(t).do("GET", bad.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, bad.field)
		})
	}
}
