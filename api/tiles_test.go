package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/domain"
)

func TestVectorTiles(t *testing.T) {
	e := newEnv(t)
	basra := orb.Point{47.6625, 30.5489}
	e.createFacility(basra[0], basra[1], "U.S. Consulate General Basrah")
	e.createIncident(47.665, 30.55, map[string]any{"severity": 4})
	e.createIncident(47.67, 30.552, map[string]any{"type": "protest", "severity": 1})
	e.createIncident(35.50, 33.89, nil) // Beirut: another tile
	tile := maptile.At(basra, 12)
	url := fmt.Sprintf("/tiles/%d/%d/%d.mvt", tile.Z, tile.X, tile.Y)

	tests := []struct {
		name                  string
		query                 string
		incidents, facilities int
	}{
		{"everything in the tile", "", 2, 1},
		{"under an items filter", "?severity_min=3", 1, 1},
		{"under a CQL2 filter", "?filter=type%20%3D%20%27protest%27", 1, 1},
		{"a bbox outside the tile", "?bbox=35,33,36,34", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", url+tt.query, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
			if ct := r.Header().Get("Content-Type"); ct != "application/vnd.mapbox-vector-tile" {
				t.Fatalf("Content-Type %q", ct)
			}
			layers, err := mvt.Unmarshal(r.Body.Bytes())
			if err != nil {
				t.Fatalf("not a vector tile: %v", err)
			}
			layers.ProjectToWGS84(tile)
			counts := map[string]int{}
			for _, l := range layers {
				counts[l.Name] = len(l.Features)
				for _, f := range l.Features {
					p := f.Geometry.(orb.Point)
					if !tile.Bound().Pad(1e-6).Contains(p) {
						t.Errorf("%s feature at %v lies outside tile %v", l.Name, p, tile)
					}
				}
			}
			if counts["incidents"] != tt.incidents || counts["facilities"] != tt.facilities {
				t.Errorf("layers hold %v, want %d incidents and %d facilities", counts, tt.incidents, tt.facilities)
			}
		})
	}
	for _, bad := range []string{"/tiles/23/0/0.mvt", "/tiles/2/4/0.mvt", "/tiles/2/1/1.png", "/tiles/a/1/1.mvt"} {
		e.do("GET", bad, nil, domain.RoleAnalyst).wantProblem(http.StatusNotFound, "")
	}
	e.do("GET", url+"?type=rocket", nil, domain.RoleAnalyst).wantProblem(http.StatusBadRequest, "type")
}
