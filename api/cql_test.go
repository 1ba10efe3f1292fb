package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

func TestCQL2Filters(t *testing.T) {
	e := newEnv(t)
	ied := e.createIncident(44.4, 33.3, map[string]any{"type": "ied", "severity": 4, "occurred_at": "2018-09-06T21:00:00Z", "country": "IQ"})
	rockets := e.createIncident(47.7, 30.5, map[string]any{"type": "indirect_fire", "severity": 3, "occurred_at": "2018-09-08T05:00:00Z", "country": "IQ", "title": "Katyusha rockets at the airport"})
	protest := e.createIncident(35.5, 33.9, map[string]any{"type": "protest", "severity": 1, "occurred_at": "2018-10-01T12:00:00Z", "country": "LB", "external_id": "LBN1"})
	small := e.createIncident(44.0, 36.2, map[string]any{"type": "ied", "severity": 2, "occurred_at": "2018-09-20T00:00:00Z"})

	tests := []struct {
		filter string
		want   []int64 // in the default order, newest first
	}{
		{"type = 'ied' AND severity >= 3", []int64{ied}},
		{"type = 'ied'", []int64{small, ied}},
		{"type <> 'ied'", []int64{protest, rockets}},
		{"severity > 1 AND severity < 4", []int64{small, rockets}},
		{"type IN ('protest', 'indirect_fire')", []int64{protest, rockets}},
		{"type NOT IN ('protest', 'indirect_fire')", []int64{small, ied}},
		{"title LIKE 'Katyusha%'", []int64{rockets}},
		{"country = 'IQ' OR country = 'LB'", []int64{protest, rockets, ied}},
		// small has no country: NULL = 'IQ' is NULL, and so is its NOT
		// (OGC 21-065r2, /req/basic-cql2/binary-comparison-predicate C).
		{"NOT (country = 'IQ')", []int64{protest}},
		{"country IS NULL", []int64{small}},
		{"external_id IS NOT NULL", []int64{protest}},
		{"occurred_at >= TIMESTAMP('2018-09-08T00:00:00Z')", []int64{protest, small, rockets}},
		{"occurred_at BETWEEN DATE('2018-09-01') AND DATE('2018-09-10')", []int64{rockets, ied}},
		{"severity BETWEEN 2 AND 3 AND (type = 'ied' OR country = 'IQ')", []int64{small, rockets}},
		{`"type" = 'ied' and severity >= 3`, []int64{ied}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := e.in(t).ids("/collections/incidents/items?filter-lang=cql2-text&filter=" + url.QueryEscape(tt.filter))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Filters combine with the other parameters, and work on facilities.
	if got := e.ids("/collections/incidents/items?bbox=44,33,45,34&filter=" + url.QueryEscape("severity >= 1")); !slices.Equal(got, []int64{ied}) {
		t.Errorf("bbox and filter: %v", got)
	}
	e.createFacility(47.66, 30.55, "Basrah")
	if n := e.count("/collections/facilities/items?filter=" + url.QueryEscape("kind = 'consulate_general' AND alert_radius_m >= 5000")); n != 1 {
		t.Errorf("facilities filter matched %d", n)
	}
	// Facilities take the spatial functions too, through their own R*Tree.
	for filter, want := range map[string]int{
		"S_INTERSECTS(geometry, BBOX(47, 30, 48, 31))":                         1,
		"S_WITHIN(geometry, POLYGON((47 30, 47.6 30, 47.6 31, 47 31, 47 30)))": 0,
		"S_DISJOINT(geometry, POINT(47.66 30.55)) AND CASEI(city) = 'basrah'":  0,
		"S_EQUALS(geometry, POINT(47.66 30.55)) AND CASEI(city) = 'basrah'":    1,
	} {
		if n := e.count("/collections/facilities/items?filter=" + url.QueryEscape(filter)); n != want {
			t.Errorf("facilities %s matched %d, want %d", filter, n, want)
		}
	}

	for _, bad := range []string{
		"colour = 'red'", "type = ", "type = 3", "severity = 'high'", "(type = 'ied'", "type = 'ied' AND",
		"type LIKE 3", "severity LIKE '1%'", "occurred_at > 'yesterday'", "type == 'ied'", "type = 'ied' ;", "'unterminated",
	} {
		e.do("GET", "/collections/incidents/items?filter="+url.QueryEscape(bad), nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "filter")
	}
	e.do("GET", "/collections/incidents/items?filter-lang=ecql&filter=x", nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "filter-lang")
}

func TestQueryables(t *testing.T) {
	e := newEnv(t)
	for _, c := range []string{"incidents", "facilities"} {
		r := e.do("GET", "/collections/"+c+"/queryables", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		if ct := r.Header().Get("Content-Type"); ct != "application/schema+json" {
			t.Errorf("%s: Content-Type %q", c, ct)
		}
		props := r.json()["properties"].(map[string]any)
		want := domain.IncidentQueryables
		if c == "facilities" {
			want = domain.FacilityQueryables
		}
		for _, q := range want {
			if _, ok := props[q.Name]; !ok {
				t.Errorf("%s queryables lack %s", c, q.Name)
			}
		}
	}
	if _, err := api.ParseCQL("severity >= 3", domain.IncidentQueryables); err != nil {
		t.Fatal(err)
	}
}
