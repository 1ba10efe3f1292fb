package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestCSVExport: f=csv has the contract's columns in order, RFC 4180 quoting
// and CRLF line ends.
func TestCSVExport(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/actors", map[string]any{"id": "kh", "name": "Kata'ib Hezbollah"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	e.createIncident(47.6625, 30.5489, map[string]any{"title": `Rockets, "three" of them`, "external_id": "IRQ1",
		"casualties": map[string]any{"killed": 1, "injured": 2}, "actors": []map[string]any{{"actor_id": "kh", "role": "suspected"}}})
	r := e.do("GET", "/collections/incidents/items?f=csv", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	if !strings.Contains(r.Body.String(), "\r\n") {
		t.Errorf("lines do not end in CRLF")
	}
	rows, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows (%v):\n%s", len(rows), err, r.Body.String())
	}
	if got := strings.Join(rows[0], ","); got != "id,lon,lat,type,title,occurred_at,severity,status,country,facility_id,actors,killed,injured,external_id" {
		t.Errorf("header %s", got)
	}
	want := []string{"1", "47.6625", "30.5489", "indirect_fire", `Rockets, "three" of them`, "2018-09-08T05:00:00Z", "3", "reported", "", "", "kh", "1", "2", "IRQ1"}
	if strings.Join(rows[1], "|") != strings.Join(want, "|") {
		t.Errorf("row %q\nwant %q", rows[1], want)
	}
}

// TestSTIXExport: f=stix is a STIX 2.1 bundle with an incident, its
// location and the relationship between them, ids stable across exports.
func TestSTIXExport(t *testing.T) {
	e := newEnv(t)
	e.createIncident(47.6625, 30.5489, nil)
	bundle := func() map[string]any {
		r := e.do("GET", "/collections/incidents/items?f=stix", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if ct := r.Header().Get("Content-Type"); ct != "application/stix+json;version=2.1" {
			t.Fatalf("Content-Type %q", ct)
		}
		return r.json()
	}
	b := bundle()
	if b["type"] != "bundle" || !strings.HasPrefix(b["id"].(string), "bundle--") {
		t.Fatalf("not a bundle: %v", b)
	}
	types := map[string]string{}
	for _, o := range b["objects"].([]any) {
		obj := o.(map[string]any)
		if obj["spec_version"] != "2.1" {
			t.Errorf("object %v is not STIX 2.1", obj["id"])
		}
		types[obj["type"].(string)] = obj["id"].(string)
	}
	if len(types) != 3 || types["incident"] == "" || types["location"] == "" || types["relationship"] == "" {
		t.Fatalf("objects %v, want an incident, a location and a relationship", types)
	}
	again := bundle()["objects"].([]any)[0].(map[string]any)["id"]
	if again != types["incident"] {
		t.Errorf("incident id %v changed to %v between exports", types["incident"], again)
	}
}
