package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/postwatch/postwatch/domain"
)

// TestFeaturesValidateAgainstQueryables: the queryables are a JSON Schema
// of the properties features carry (OGC API – Features Part 3), so each
// feature's queryable properties are valid under it, null included where a
// property may be unset (facility_id, external_id).
func TestFeaturesValidateAgainstQueryables(t *testing.T) {
	e := newEnv(t)
	fac := e.createFacility(47.66, 30.55, "Consulate General Basrah")
	e.createIncident(47.67, 30.56, map[string]any{"facility_id": fac, "external_id": "IRQ1234", "country": "IQ", "description": "rockets"})
	e.createIncident(44.36, 33.31, nil) // facility_id and external_id null

	for _, coll := range []string{"incidents", "facilities"} {
		t.Run(coll, func(t *testing.T) {
			e := e.in(t)
			raw := e.do("GET", "/collections/"+coll+"/queryables", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.Bytes()
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			c := jsonschema.NewCompiler()
			if err := c.AddResource("queryables.json", doc); err != nil {
				t.Fatal(err)
			}
			schema, err := c.Compile("queryables.json")
			if err != nil {
				t.Fatalf("queryables are not a JSON Schema: %v\n%s", err, raw)
			}
			queryable := doc.(map[string]any)["properties"].(map[string]any)
			var page struct {
				Features []struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"features"`
			}
			if err := json.Unmarshal(e.do("GET", "/collections/"+coll+"/items", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Features {
				// The feature's properties that are queryables; the others
				// (casualties, sources, …) are not the schema's business.
				subset := map[string]json.RawMessage{}
				for name, v := range f.Properties {
					if _, ok := queryable[name]; ok {
						subset[name] = v
					}
				}
				b, _ := json.Marshal(subset)
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if err := schema.Validate(inst); err != nil {
					t.Errorf("feature properties %s are not valid under the queryables: %v", b, err)
				}
			}
		})
	}
}
