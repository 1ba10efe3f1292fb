package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestFormatParameter: every GET the OpenAPI document declares f for
// answers each value of its enum and refuses any other with a 400 naming
// f (CONTRACT §3: an unknown parameter value is bad input), so what the
// document offers and what the route serves are one list. Queryables take
// f too, as every other OGC resource does.
func TestFormatParameter(t *testing.T) {
	mediaTypeOf := map[string]string{"json": "json", "geojson": "geo+json", "html": "text/html", "csv": "text/csv",
		"stix": "stix+json", "gpkg": "geopackage"}
	e := newEnv(t)
	ids := map[string]string{
		"incidents":  strconv.FormatInt(e.createIncident(44.36, 33.31, nil), 10),
		"facilities": strconv.FormatInt(e.createFacility(47.66, 30.55, "Consulate General Basrah"), 10),
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref  string `json:"$ref"`
				Name string `json:"name"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name   string `json:"name"`
				In     string `json:"in"`
				Schema struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(e.do("GET", "/openapi.json", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	declared := map[string][]string{} // path → f's enum
	for path, ops := range doc.Paths {
		for _, p := range ops["get"].Parameters {
			ref := doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			if ref.Name == "f" && ref.In == "query" {
				declared[path] = ref.Schema.Enum
			}
		}
	}
	for _, path := range []string{"/openapi.json", "/collections/incidents/queryables", "/collections/facilities/queryables"} {
		if len(declared[path]) == 0 {
			t.Errorf("%s declares no f values", path)
		}
	}
	for path, values := range declared {
		url := path
		for coll, id := range ids {
			if strings.HasPrefix(path, "/collections/"+coll+"/") {
				url = strings.ReplaceAll(url, "{featureId}", id)
			}
		}
		if strings.Contains(url, "{") {
			t.Errorf("%s: no value for its path parameters", path)
			continue
		}
		for _, f := range values {
			t.Run(url+"?f="+f, func(t *testing.T) {
				r := e.in(t).do("GET", url+"?f="+f, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				if ct := r.Header().Get("Content-Type"); !strings.Contains(ct, mediaTypeOf[f]) {
					t.Errorf("Content-Type %q is not %s", ct, f)
				}
			})
		}
		for _, f := range []string{"yaml", "xml", "JSON"} {
			t.Run(url+"?f="+f, func(t *testing.T) {
				e.in(t).do("GET", url+"?f="+f, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "f")
			})
		}
	}
}
