package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestItemsCoreParameterDefinitions: OGC API – Features Part 1 fixes how
// every items operation declares bbox, limit and datetime in its OpenAPI
// document (/req/core/fc-bbox-definition, fc-limit-definition,
// fc-time-definition: a form-style, non-exploded, optional query
// parameter of the given schema type), and the OGC test suite checks each
// collection's path against those fragments.
func TestItemsCoreParameterDefinitions(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Paths      map[string]map[string]struct{ Parameters []map[string]any } `json:"paths"`
		Components struct {
			Parameters map[string]map[string]any `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(e.do("GET", "/openapi.json", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	param := func(path, name string) map[string]any {
		for _, p := range doc.Paths[path]["get"].Parameters {
			if ref, ok := p["$ref"].(string); ok {
				p = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
			}
			if p["name"] == name && p["in"] == "query" {
				return p
			}
		}
		return nil
	}
	for _, path := range []string{"/collections/incidents/items", "/collections/facilities/items"} {
		for _, tt := range []struct{ name, schemaType string }{{"bbox", "array"}, {"limit", "integer"}, {"datetime", "string"}} {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				p := param(path, tt.name)
				if p == nil {
					t.Fatalf("%s does not declare %s", path, tt.name)
				}
				schema, _ := p["schema"].(map[string]any)
				if p["required"] == true || p["style"] != "form" || p["explode"] != false || schema["type"] != tt.schemaType {
					t.Errorf("%s is declared as %v, want an optional form-style, non-exploded query parameter of type %s", tt.name, p, tt.schemaType)
				}
			})
		}
	}
}

// TestFacilitiesTakeDatetime: every items operation takes datetime (OGC
// API – Features Part 1, /req/core/fc-time-definition), and a feature with
// no temporal geometry, as a facility, is in every result whatever the
// instant or interval (/ats/core/fc-time-response, test method 2). The
// value is still read, so a bad one is a 400 naming datetime.
func TestFacilitiesTakeDatetime(t *testing.T) {
	e := newEnv(t)
	e.createFacility(47.6625, 30.5489, "U.S. Consulate General Basrah")
	e.createFacility(44.3956, 33.2986, "U.S. Embassy Baghdad")
	for _, v := range []string{"2018-09-08T05:00:00Z", "2018-09-08", "2018-09-01T00:00:00Z/2018-09-30T00:00:00Z", "../2018-09-30", "2018-09-01/.."} {
		t.Run(v, func(t *testing.T) {
			if n := e.in(t).count("/collections/facilities/items?datetime=" + url.QueryEscape(v)); n != 2 {
				t.Errorf("datetime=%s matched %d facilities, want both", v, n)
			}
		})
	}
	for _, v := range []string{"yesterday", "2018-09-30/2018-09-01", "../.."} {
		t.Run("refused "+v, func(t *testing.T) {
			e.in(t).do("GET", "/collections/facilities/items?datetime="+url.QueryEscape(v), nil, domain.RoleAnalyst).
				wantProblem(http.StatusBadRequest, "datetime")
		})
	}
}
