package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// openCTIAccepts are the relationship types OpenCTI imports between the
// STIX types postwatch writes (its stixCoreRelationshipsMapping, with
// related-to, which it takes between any two objects); "identity/individual"
// is a person.
var openCTIAccepts = map[string]bool{
	"incident located-at location":                    true,
	"incident attributed-to threat-actor":             true,
	"incident targets identity":                       true,
	"threat-actor attributed-to identity":             true,
	"threat-actor attributed-to identity/individual":  true,
	"threat-actor part-of threat-actor":               true,
	"threat-actor cooperates-with threat-actor":       true,
	"identity/individual part-of identity":            true,
	"identity/individual part-of identity/individual": true,
}

// stixTypeOf is an object's type as openCTIAccepts names it.
func stixTypeOf(o map[string]any) string {
	if o["identity_class"] == "individual" {
		return "identity/individual"
	}
	return o["type"].(string)
}

// TestSTIXForOpenCTI: every relation kind between every pair of STIX
// types postwatch writes becomes a relationship that STIX 2.1 or OpenCTI
// defines for those types (related-to where neither has one), reversed
// where the STIX source is postwatch's target, with postwatch's kind in
// x_postwatch_kind and the description; an actor's type follows its kind
// alone (a state agency that is only a target is an identity), and an
// identity held responsible for an incident acts through a nation-state
// threat actor of the same UUID, attributed-to it, whose id is the same in
// every bundle.
func TestSTIXForOpenCTI(t *testing.T) {
	e := newEnv(t)
	kinds := map[string]string{"state-a": "state", "agency-a": "state_agency", "agency-b": "state_agency",
		"group-a": "armed_group", "militia-a": "militia", "militia-b": "militia", "person-a": "person",
		"org-a": "organization", "unknown-a": "unknown"}
	for id, kind := range kinds {
		e.do("POST", "/actors", map[string]any{"id": id, "name": id, "kind": kind}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	tests := []struct {
		subject, kind, target string
		want                  string // "source type target" by actor id
	}{
		{"agency-a", "directs", "militia-a", "militia-a attributed-to agency-a"},
		{"state-a", "sponsors", "group-a", "group-a attributed-to state-a"},
		{"agency-a", "facilitates", "militia-b", "militia-b attributed-to agency-a"},
		{"person-a", "leads", "militia-a", "militia-a attributed-to person-a"},
		{"militia-a", "controls", "militia-b", "militia-b part-of militia-a"},
		{"group-a", "directs", "militia-b", "group-a cooperates-with militia-b"},
		{"group-a", "sponsors", "militia-a", "group-a cooperates-with militia-a"},
		{"militia-b", "facilitates", "group-a", "militia-b cooperates-with group-a"},
		{"militia-a", "member_of", "group-a", "militia-a part-of group-a"},
		{"militia-a", "allied_with", "unknown-a", "militia-a cooperates-with unknown-a"},
		{"person-a", "member_of", "agency-a", "person-a part-of agency-a"},
		{"person-a", "leads", "org-a", "person-a part-of org-a"},
		{"state-a", "controls", "agency-b", "state-a related-to agency-b"},
		{"militia-b", "member_of", "agency-b", "militia-b related-to agency-b"},
		{"org-a", "allied_with", "state-a", "org-a related-to state-a"},
	}
	for _, tc := range tests {
		e.do("POST", "/actors/"+tc.subject+"/relations", map[string]any{"kind": tc.kind, "target_id": tc.target, "source": "a test"},
			domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	by := func(id, role string) map[string]any { return map[string]any{"actor_id": id, "role": role} }
	inc := e.createIncident(44.4, 33.3, map[string]any{"actors": []any{
		by("agency-a", "perpetrator"), by("agency-b", "target"), by("militia-a", "suspected"), by("state-a", "target"),
		by("group-a", "claimant"), by("militia-b", "perpetrator"), by("person-a", "suspected"), by("org-a", "target"),
		by("unknown-a", "target")}})

	bundle := func(t *testing.T, url string) (map[string][]map[string]any, map[string]map[string]any) {
		t.Helper()
		objs := validSTIX(t, e.in(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.Bytes())
		byID := map[string]map[string]any{}
		for _, os := range objs {
			for _, o := range os {
				byID[o["id"].(string)] = o
			}
		}
		return objs, byID
	}
	objs, byID := bundle(t, "/collections/incidents/items?f=stix")
	primary := map[string]string{} // actor id → its primary object's id
	for _, typ := range []string{"identity", "threat-actor"} {
		for _, o := range objs[typ] {
			name := o["name"].(string)
			if _, ok := primary[name]; !ok {
				primary[name] = o["id"].(string)
			}
		}
	}
	nameOfID := map[string]string{}
	for name, id := range primary {
		nameOfID[id] = name
	}

	t.Run("types follow the kind", func(t *testing.T) {
		for id, kind := range kinds {
			want := "identity"
			if kind == "armed_group" || kind == "militia" || kind == "unknown" {
				want = "threat-actor"
			}
			if got, _, _ := strings.Cut(primary[id], "--"); got != want {
				t.Errorf("%s (%s) is a %s, want %s", id, kind, got, want)
			}
		}
	})

	rels := map[string][]map[string]any{} // by x_postwatch_kind
	for _, r := range objs["relationship"] {
		src, dst := byID[r["source_ref"].(string)], byID[r["target_ref"].(string)]
		if src == nil || dst == nil {
			t.Fatalf("relationship %v points outside the bundle", r)
		}
		pair := stixTypeOf(src) + " " + r["relationship_type"].(string) + " " + stixTypeOf(dst)
		if r["relationship_type"] != "related-to" && !openCTIAccepts[pair] {
			t.Errorf("OpenCTI does not import %s: %v", pair, r)
		}
		if k, ok := r["x_postwatch_kind"].(string); ok {
			rels[k] = append(rels[k], r)
		}
	}
	for _, tc := range tests {
		t.Run(tc.subject+" "+tc.kind+" "+tc.target, func(t *testing.T) {
			found := 0
			for _, r := range rels[tc.kind] {
				desc, _ := r["description"].(string)
				if !strings.HasPrefix(desc, tc.subject+" "+tc.kind+" "+tc.target+". Source: a test") {
					continue
				}
				found++
				got := fmt.Sprintf("%s %s %s", nameOfID[r["source_ref"].(string)], r["relationship_type"], nameOfID[r["target_ref"].(string)])
				if got != tc.want {
					t.Errorf("written as %q, want %q", got, tc.want)
				}
			}
			if found != 1 {
				t.Errorf("%d relationships describe it, want 1; by kind: %v", found, rels[tc.kind])
			}
		})
	}

	t.Run("an identity held responsible acts through its persona", func(t *testing.T) {
		var personas []map[string]any
		for _, o := range objs["threat-actor"] {
			if o["x_postwatch_kind"] == "state_agency" || o["x_postwatch_kind"] == "person" {
				personas = append(personas, o)
			}
		}
		if len(personas) != 2 {
			t.Fatalf("personas %v, want agency-a's and person-a's (agency-b is only a target)", personas)
		}
		for _, p := range personas {
			name := p["name"].(string)
			_, uuid, _ := strings.Cut(primary[name], "--")
			if p["id"] != "threat-actor--"+uuid {
				t.Errorf("%s's persona is %v, want the identity's UUID %s", name, p["id"], uuid)
			}
			wantTypes := map[string]string{"agency-a": "[nation-state]", "person-a": "[unknown]"}[name]
			if fmt.Sprint(p["threat_actor_types"]) != wantTypes {
				t.Errorf("%s's persona is %v, want %s", name, p["threat_actor_types"], wantTypes)
			}
			links := map[string]int{}
			for _, r := range objs["relationship"] {
				if r["source_ref"] == p["id"] && r["target_ref"] == primary[name] {
					links["persona "+r["relationship_type"].(string)]++
				}
				if byID[r["source_ref"].(string)]["type"] == "incident" && r["target_ref"] == p["id"] {
					links["incident "+r["relationship_type"].(string)]++
				}
				if byID[r["source_ref"].(string)]["type"] == "incident" && r["target_ref"] == primary[name] {
					links["incident to the identity"]++
				}
			}
			if fmt.Sprint(links) != "map[incident attributed-to:1 persona attributed-to:1]" {
				t.Errorf("%s: links %v", name, links)
			}
		}
		one, _ := bundle(t, fmt.Sprintf("/collections/incidents/items/%d?f=stix", inc))
		for _, o := range one["threat-actor"] {
			if o["name"] == "agency-a" && o["id"] != "threat-actor--"+strings.TrimPrefix(primary["agency-a"], "identity--") {
				t.Errorf("agency-a's persona is %v in the item's bundle", o["id"])
			}
		}
	})

	t.Run("a threat actor as a target is related-to, keeping its role", func(t *testing.T) {
		n := 0
		for _, r := range objs["relationship"] {
			if r["target_ref"] == primary["unknown-a"] && byID[r["source_ref"].(string)]["type"] == "incident" {
				n++
				if r["relationship_type"] != "related-to" || r["x_postwatch_role"] != "target" {
					t.Errorf("%v", r)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d links from the incident to unknown-a, want 1", n)
		}
	})
}
