package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
		want  map[string]float64 // the buckets that are not empty
		order []string
	}{
		{"group_by=day", map[string]float64{"2018-09-06": 1, "2018-09-08": 2, "2018-10-01": 1}, []string{"2018-09-06", "2018-09-07", "2018-09-08", "2018-09-09"}},
		{"group_by=week", map[string]float64{"2018-09-03": 3, "2018-10-01": 1}, []string{"2018-09-03", "2018-09-10", "2018-09-17", "2018-09-24", "2018-10-01"}},
		{"group_by=month", map[string]float64{"2018-09": 3, "2018-10": 1}, nil},
		{"group_by=type", map[string]float64{"indirect_fire": 2, "protest": 2}, nil},
		{"group_by=country", map[string]float64{"IQ": 3, "LB": 1}, []string{"IQ", "LB"}},
		{"group_by=actor", map[string]float64{"kh": 2, "aah": 1}, []string{"kh", "aah"}},
		{"group_by=facility", map[string]float64{"1": 2}, nil},
		{"group_by=type&country=IQ&datetime=2018-09-08", map[string]float64{"indirect_fire": 1, "protest": 1}, nil},
		{"group_by=day&bbox=47,30,48,31", map[string]float64{"2018-09-06": 1, "2018-09-08": 1}, []string{"2018-09-06", "2018-09-07", "2018-09-08"}},
		{"group_by=country&filter=type%20%3D%20%27protest%27", map[string]float64{"IQ": 1, "LB": 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			buckets := e.do("GET", "/stats/incidents?"+tt.query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["buckets"].([]any)
			got := map[string]float64{}
			var keys []string
			for _, b := range buckets {
				m := b.(map[string]any)
				if n := m["count"].(float64); n > 0 {
					got[m["key"].(string)] = n
				}
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
	for _, bad := range []struct{ query, field string }{
		{"", "group_by"}, {"group_by=year", "group_by"}, {"group_by=day&limit=5", "limit"}, {"group_by=day&type=rocket", "type"},
		{"group_by=month,week", "group_by"}, {"group_by=type,type", "group_by"}, {"group_by=type,country,actor", "group_by"},
		{"group_by=type&sum=severity", "sum"}, {"group_by=type&sum=killed,killed", "sum"}, {"group_by=type&sum=", "sum"},
	} {
		t.Run("400 "+bad.query, func(t *testing.T) {
			e.with(t).do("GET", "/stats/incidents?"+bad.query, nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, bad.field)
		})
	}
}

// TestIncidentStatsForBriefings: gap-free time buckets with zero counts,
// casualty sums beside counts, and two groupings at once.
func TestIncidentStatsForBriefings(t *testing.T) {
	e := newEnv(t)
	at := func(day string, typ string, killed, injured int) {
		e.createIncident(44, 33, map[string]any{"occurred_at": day + "T10:00:00Z", "type": typ,
			"casualties": map[string]any{"killed": killed, "injured": injured}})
	}
	at("2018-07-02", "ied", 2, 5)
	at("2018-07-20", "ied", 1, 0)
	at("2018-07-21", "protest", 0, 3)
	at("2018-09-08", "indirect_fire", 0, 0)

	type bucket struct {
		Key   string           `json:"key"`
		Keys  []string         `json:"keys"`
		Count int              `json:"count"`
		Sum   map[string]int64 `json:"sum"`
	}
	get := func(t *testing.T, query string) []bucket {
		t.Helper()
		r := e.with(t).do("GET", "/stats/incidents?"+query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		var body struct {
			Buckets []bucket `json:"buckets"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		return body.Buckets
	}
	tests := []struct {
		query string
		want  string // buckets as key=count[killed,injured] in order
	}{
		{"group_by=month&sum=killed,injured", "2018-07=3[3,8] 2018-08=0[0,0] 2018-09=1[0,0]"},
		{"group_by=month&sum=injured", "2018-07=3[8] 2018-08=0[0] 2018-09=1[0]"},
		{"group_by=type&sum=killed", "ied=2[3] indirect_fire=1[0] protest=1[0]"},
		{"group_by=month,type&sum=killed", "2018-07/ied=2[3] 2018-07/protest=1[0] 2018-07/indirect_fire=0[0] " +
			"2018-08/ied=0[0] 2018-08/protest=0[0] 2018-08/indirect_fire=0[0] " +
			"2018-09/ied=0[0] 2018-09/protest=0[0] 2018-09/indirect_fire=1[0]"},
		{"group_by=type,month", "ied/2018-07=2 indirect_fire/2018-07=0 protest/2018-07=1 ied/2018-08=0 indirect_fire/2018-08=0 " +
			"protest/2018-08=0 ied/2018-09=0 indirect_fire/2018-09=1 protest/2018-09=0"},
		{"group_by=month&type=cyber", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var parts []string
			for _, b := range get(t, tt.query) {
				if b.Key != strings.Join(b.Keys, "/") {
					t.Errorf("key %q for keys %q", b.Key, b.Keys)
				}
				s := fmt.Sprintf("%s=%d", b.Key, b.Count)
				if b.Sum != nil {
					var sums []string
					for _, f := range []string{"killed", "injured"} {
						if v, ok := b.Sum[f]; ok {
							sums = append(sums, strconv.FormatInt(v, 10))
						}
					}
					s += "[" + strings.Join(sums, ",") + "]"
				}
				parts = append(parts, s)
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("buckets\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestIncidentStatsBucketCap: filling the gaps of three centuries by day
// would make more buckets than one answer may hold; by month it may.
func TestIncidentStatsBucketCap(t *testing.T) {
	e := newEnv(t)
	e.createIncident(44, 33, map[string]any{"occurred_at": "1720-01-01T00:00:00Z"})
	e.createIncident(44, 33, map[string]any{"occurred_at": "2018-09-08T05:00:00Z"})
	e.do("GET", "/stats/incidents?group_by=day", nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "group_by")
	r := e.do("GET", "/stats/incidents?group_by=month", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if n := len(r.json()["buckets"].([]any)); n != (2018-1720)*12+9 {
		t.Errorf("%d monthly buckets, want %d", n, (2018-1720)*12+9)
	}
}
