package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/postwatch/postwatch/domain"
)

// stixSchemaDir holds the OASIS STIX 2.1 JSON schemas (see its README).
const stixSchemaDir = "testdata/stix2-json-schemas/schemas"

var (
	stixSchemasOnce sync.Once
	stixSchemas     map[string]*jsonschema.Schema
	stixSchemasErr  error
)

// stixObjectSchemas compiles the OASIS schema of every STIX object type,
// keyed by type, each file registered under its own $id so that relative
// references resolve without the network. Objects are validated one by
// one, as the OASIS stix2-validator does: the schemas' bundle.json lists
// neither incident nor location, so a whole bundle cannot be.
func stixObjectSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	stixSchemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		ids := map[string]string{}
		stixSchemasErr = filepath.WalkDir(stixSchemaDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			id, _ := doc.(map[string]any)["$id"].(string)
			if id == "" {
				return fmt.Errorf("%s has no $id", path)
			}
			if dir := filepath.Base(filepath.Dir(path)); dir == "sdos" || dir == "sros" {
				ids[strings.TrimSuffix(filepath.Base(path), ".json")] = id
			}
			return c.AddResource(id, doc)
		})
		stixSchemas = map[string]*jsonschema.Schema{}
		for typ, id := range ids {
			if stixSchemasErr != nil {
				break
			}
			stixSchemas[typ], stixSchemasErr = c.Compile(id)
		}
	})
	if stixSchemasErr != nil {
		t.Fatalf("OASIS STIX schemas: %v", stixSchemasErr)
	}
	return stixSchemas
}

// validSTIX fails unless body is a STIX 2.1 bundle whose every object is
// valid under the OASIS schema of its type, and returns its objects by type.
func validSTIX(t *testing.T, body []byte) map[string][]map[string]any {
	t.Helper()
	var b struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("bundle is not JSON: %v\n%s", err, body)
	}
	if b.Type != "bundle" || !strings.HasPrefix(b.ID, "bundle--") || (b.Objects != nil && len(b.Objects) == 0) {
		t.Fatalf("not a STIX bundle (type, id, objects with at least one): %.300s", body)
	}
	schemas := stixObjectSchemas(t)
	out := map[string][]map[string]any{}
	seen := map[string]bool{}
	for _, raw := range b.Objects {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		typ, _ := o["type"].(string)
		sch := schemas[typ]
		if sch == nil {
			t.Fatalf("object of type %q, which STIX 2.1 does not define: %s", typ, raw)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("%s is not valid STIX 2.1: %v\n%s", typ, err, raw)
		}
		if id := o["id"].(string); seen[id] {
			t.Fatalf("id %s appears twice in the bundle", id)
		} else {
			seen[id] = true
		}
		out[typ] = append(out[typ], o)
	}
	return out
}

// TestSTIXBundles: items, one item and whole exports are STIX 2.1 bundles
// valid under the OASIS schemas, with the incidents' actors, who is
// attributed and who targeted, the actor relations among them with their
// times, and ids stable in one database and distinct between two.
func TestSTIXBundles(t *testing.T) {
	e := newEnv(t)
	ids := basrahGraph(e)
	e.do("POST", "/actors/irgc-qf/relations", map[string]any{"kind": "directs", "target_id": "kataib-hezbollah",
		"valid_from": "2010-01-01T00:00:00Z", "valid_to": "2020-01-03T00:00:00Z", "source": "a test"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	get := func(t *testing.T, e *env, url string) (map[string][]map[string]any, map[string]map[string]any) {
		t.Helper()
		r := e.with(t).do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if ct := r.Header().Get("Content-Type"); ct != "application/stix+json;version=2.1" {
			t.Fatalf("%s: Content-Type %q", url, ct)
		}
		objs := validSTIX(t, r.Body.Bytes())
		byID := map[string]map[string]any{}
		for _, os := range objs {
			for _, o := range os {
				byID[o["id"].(string)] = o
			}
		}
		return objs, byID
	}

	for _, url := range []string{"/collections/incidents/items?f=stix", "/exports/incidents?f=stix"} {
		t.Run(url, func(t *testing.T) {
			objs, byID := get(t, e, url)
			if n := len(objs["incident"]); n != 3 {
				t.Fatalf("%d incidents, want 3", n)
			}
			if n := len(objs["location"]); n != 3 {
				t.Fatalf("%d locations, want 3", n)
			}
			names := map[string]string{}
			for _, typ := range []string{"threat-actor", "identity"} {
				for _, o := range objs[typ] {
					names[o["name"].(string)] = typ
				}
			}
			// irgc-qf is also a threat actor, its persona as a suspect;
			// identities are written last here, so the map holds them.
			want := map[string]string{"iran": "identity", "irgc-qf": "identity", "kataib-hezbollah": "threat-actor",
				"us-dos": "identity", "basra-protesters": "threat-actor"}
			if fmt.Sprint(names) != fmt.Sprint(want) {
				t.Errorf("actors %v, want %v", names, want)
			}
			rels := map[string]int{}
			var timed map[string]any
			for _, r := range objs["relationship"] {
				src, dst := byID[r["source_ref"].(string)], byID[r["target_ref"].(string)]
				if src == nil || dst == nil {
					t.Fatalf("relationship %v points outside the bundle", r)
				}
				label := fmt.Sprintf("%s %s %s", nameOf(src), r["relationship_type"], nameOf(dst))
				if kind, ok := r["x_postwatch_kind"].(string); ok {
					label += " (" + kind + ")"
				}
				rels[label]++
				if r["x_postwatch_kind"] == "directs" {
					timed = r
				}
			}
			for _, label := range []string{
				"Three Katyusha rockets hit Basra airport attributed-to irgc-qf",
				"Three Katyusha rockets hit Basra airport targets us-dos",
				"Protesters set fire to the Iranian consulate targets iran",
				"Protesters set fire to the Iranian consulate attributed-to basra-protesters",
				"KH claims a drone attributed-to kataib-hezbollah",
				"irgc-qf attributed-to irgc-qf", // the suspect's persona
				"kataib-hezbollah attributed-to irgc-qf (sponsors)", "kataib-hezbollah attributed-to irgc-qf (directs)",
				"kataib-hezbollah attributed-to iran (sponsors)", "kataib-hezbollah related-to irgc-qf (facilitates)",
				"Three Katyusha rockets hit Basra airport located-at location",
			} {
				if rels[label] != 1 {
					t.Errorf("%d of %q, want 1; have %v", rels[label], label, rels)
				}
			}
			if timed == nil || timed["start_time"] != "2010-01-01T00:00:00.000Z" || timed["stop_time"] != "2020-01-03T00:00:00.000Z" {
				t.Errorf("the dated relation is %v", timed)
			}
			for _, l := range objs["location"] {
				if l["precision"] != float64(10) {
					t.Errorf("location precision %v, want 10 m for exact", l["precision"])
				}
			}
		})
	}

	t.Run("one item, ids stable across requests", func(t *testing.T) {
		one, _ := get(t, e, fmt.Sprintf("/collections/incidents/items/%d?f=stix", ids["rockets"]))
		all, _ := get(t, e, "/collections/incidents/items?f=stix")
		if len(one["incident"]) != 1 || len(one["threat-actor"]) != 1 || len(one["identity"]) != 2 {
			t.Fatalf("one item's bundle: %v", one)
		}
		found := false
		for _, o := range all["incident"] {
			found = found || o["id"] == one["incident"][0]["id"]
		}
		if !found {
			t.Errorf("incident id %v differs between the item and the list", one["incident"][0]["id"])
		}
	})

	t.Run("another database mints other ids for the same record", func(t *testing.T) {
		other := newEnv(t)
		other.createIncident(47.6625, 30.5489, nil)
		a, _ := get(t, e, "/collections/incidents/items/1?f=stix")
		b, _ := get(t, other, "/collections/incidents/items/1?f=stix")
		if a["incident"][0]["id"] == b["incident"][0]["id"] {
			t.Errorf("two databases minted %v for their incident 1", a["incident"][0]["id"])
		}
	})

	t.Run("a chain's actors and relations join the bundle", func(t *testing.T) {
		objs, byID := get(t, e, "/exports/incidents?f=stix&actor=iran&attribution=chain&q=rockets")
		if len(objs["incident"]) != 1 || len(objs["identity"]) != 4 || len(objs["threat-actor"]) != 1 {
			t.Fatalf("%d incidents, identities %v, threat actors %v, want the rockets, iran, irgc, irgc-qf and us-dos, and irgc-qf's persona",
				len(objs["incident"]), objs["identity"], objs["threat-actor"])
		}
		rels := map[string]bool{}
		for _, r := range objs["relationship"] {
			rels[fmt.Sprintf("%s %s %s (%v)", nameOf(byID[r["source_ref"].(string)]), r["relationship_type"], nameOf(byID[r["target_ref"].(string)]), r["x_postwatch_kind"])] = true
		}
		for _, want := range []string{"iran related-to irgc (controls)", "irgc related-to irgc-qf (controls)"} {
			if !rels[want] {
				t.Errorf("no %q in %v", want, rels)
			}
		}
	})

	t.Run("an empty result is a valid bundle", func(t *testing.T) {
		objs, _ := get(t, e, "/collections/incidents/items?f=stix&type=cyber")
		if len(objs) != 0 {
			t.Errorf("objects %v", objs)
		}
	})
}

func nameOf(o map[string]any) string {
	if n, ok := o["name"].(string); ok {
		return n
	}
	return o["type"].(string)
}
