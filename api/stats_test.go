package api_test

import (
	"net/http"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

func TestIncidentStats(t *testing.T) {
	e := newEnv(t)
	for _, a := range []string{"kh", "aah"} {
		e.do("POST", "/actors", map[string]any{"id": a, "name": a}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	fac := e.createFacility(47.6625, 30.5489, "Basrah")
	e.createIncident(47.67, 30.55, map[string]any{"occurred_at": "2018-09-06T21:00:00Z", "country": "IQ", "facility_id": fac,
		"actors": []map[string]any{{"actor_id": "kh", "role": "suspected"}, {"actor_id": "aah", "role": "suspected"}}})
	e.createIncident(47.67, 30.55, map[string]any{"occurred_at": "2018-09-08T05:00:00Z", "country": "IQ", "facility_id": fac,
		"actors": []map[string]any{{"actor_id": "kh", "role": "suspected"}}})
	e.createIncident(44.39, 33.30, map[string]any{"type": "protest", "occurred_at": "2018-09-08T12:00:00Z", "country": "IQ"})
	e.createIncident(35.50, 33.89, map[string]any{"type": "protest", "occurred_at": "2018-10-01T12:00:00Z", "country": "LB"})

	tests := []struct {
		query string
		want  map[string]float64
		order []string
	}{
		{"group_by=day", map[string]float64{"2018-09-06": 1, "2018-09-08": 2, "2018-10-01": 1}, []string{"2018-09-06", "2018-09-08", "2018-10-01"}},
		{"group_by=week", map[string]float64{"2018-09-03": 3, "2018-10-01": 1}, []string{"2018-09-03", "2018-10-01"}},
		{"group_by=month", map[string]float64{"2018-09": 3, "2018-10": 1}, nil},
		{"group_by=type", map[string]float64{"indirect_fire": 2, "protest": 2}, nil},
		{"group_by=country", map[string]float64{"IQ": 3, "LB": 1}, []string{"IQ", "LB"}},
		{"group_by=actor", map[string]float64{"kh": 2, "aah": 1}, []string{"kh", "aah"}},
		{"group_by=facility", map[string]float64{"1": 2}, nil},
		{"group_by=type&country=IQ&datetime=2018-09-08", map[string]float64{"indirect_fire": 1, "protest": 1}, nil},
		{"group_by=day&bbox=47,30,48,31", map[string]float64{"2018-09-06": 1, "2018-09-08": 1}, nil},
		{"group_by=country&filter=type%20%3D%20%27protest%27", map[string]float64{"IQ": 1, "LB": 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			buckets := e.do("GET", "/stats/incidents?"+tt.query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["buckets"].([]any)
			got := map[string]float64{}
			var keys []string
			for _, b := range buckets {
				m := b.(map[string]any)
				got[m["key"].(string)] = m["count"].(float64)
				keys = append(keys, m["key"].(string))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("buckets %v, want %v", got, tt.want)
			}
			for k, n := range tt.want {
				if got[k] != n {
					t.Errorf("bucket %s = %v, want %v (all: %v)", k, got[k], n, got)
				}
			}
			for i, k := range tt.order {
				if keys[i] != k {
					t.Errorf("bucket %d is %s, want %s (order %v)", i, keys[i], k, keys)
				}
			}
		})
	}
	for _, bad := range []string{"", "group_by=year", "group_by=day&limit=5", "group_by=day&type=rocket"} {
		e.do("GET", "/stats/incidents?"+bad, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "")
	}
}
