package api_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// TestCollectionExtents checks that each collection advertises an extent
// that contains all its features, read at once after writes.
func TestCollectionExtents(t *testing.T) {
	e := newEnv(t)
	extent := func(c string) ([]any, []any) {
		t.Helper()
		body := e.do("GET", "/collections/"+c, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
		ext := body["extent"].(map[string]any)
		bbox := ext["spatial"].(map[string]any)["bbox"].([]any)[0].([]any)
		var interval []any
		if tmp, ok := ext["temporal"].(map[string]any); ok {
			interval = tmp["interval"].([]any)[0].([]any)
		}
		return bbox, interval
	}
	e.createIncident(44.3955, 33.2986, map[string]any{"occurred_at": "2018-09-06T21:00:00Z"})
	e.createIncident(47.6625, 30.5489, map[string]any{"occurred_at": "2018-09-08T05:00:00Z"})
	bbox, interval := extent("incidents")
	for i, want := range []float64{44.3955, 30.5489, 47.6625, 33.2986} {
		got := bbox[i].(float64)
		if (i < 2 && (got > want || got < want-0.001)) || (i >= 2 && (got < want || got > want+0.001)) {
			t.Errorf("incidents bbox[%d] = %g, want just around %g", i, got, want)
		}
	}
	if interval[0] != "2018-09-06T21:00:00Z" || interval[1] != "2018-09-08T05:00:00Z" {
		t.Errorf("incidents interval = %v", interval)
	}
	e.createIncident(-77.0365, 38.8977, map[string]any{"occurred_at": "2020-01-03T00:00:00Z"})
	bbox, interval = extent("incidents")
	if bbox[0].(float64) > -77.0365 || bbox[1].(float64) > 30.5489 || interval[1] != "2020-01-03T00:00:00Z" {
		t.Errorf("extent %v %v does not grow to a new incident at once", bbox, interval)
	}
	bbox, _ = extent("facilities")
	if bbox[0].(float64) != -180 || bbox[3].(float64) != 90 {
		t.Errorf("an empty collection's bbox is %v, want the whole world", bbox)
	}
	e.createFacility(47.6625, 30.5489, "U.S. Consulate General Basrah")
	bbox, _ = extent("facilities")
	if bbox[0].(float64) > 47.6625 || bbox[2].(float64) < 47.6625 || bbox[2].(float64)-bbox[0].(float64) > 0.001 {
		t.Errorf("facilities bbox %v does not fit the one facility", bbox)
	}
}

// TestLinksCarryTheAccessToken: a client that authenticates by query string
// (a browser, a map client) can follow every link it is given.
func TestLinksCarryTheAccessToken(t *testing.T) {
	e := newEnv(t)
	id := e.createIncident(44, 33, nil)
	tok := e.tokens[domain.RoleAnalyst]
	for _, url := range []string{
		"/?f=html&access_token=" + tok,
		"/collections?f=html&access_token=" + tok,
		"/collections/incidents/items?f=html&access_token=" + tok,
		fmt.Sprintf("/collections/incidents/items/%d?access_token=%s", id, tok),
		"/collections/incidents/items?limit=1&access_token=" + tok,
	} {
		body := e.do("GET", url, nil, "").wantStatus(http.StatusOK).Body.String()
		hrefs := regexp.MustCompile(`"(?:href)"\s*:\s*"([^"]+)"|href="([^"]+)"`).FindAllStringSubmatch(body, -1)
		if len(hrefs) == 0 {
			t.Fatalf("%s: no links", url)
		}
		for _, h := range hrefs {
			link := h[1] + h[2]
			// Style sheets are public assets, not links to follow; a token
			// in their URL would only spread it.
			if strings.Contains(link, "/map/assets/") {
				if strings.Contains(link, "access_token") {
					t.Errorf("%s: asset link %s carries the token", url, link)
				}
				continue
			}
			if !strings.Contains(link, "access_token="+tok) {
				t.Errorf("%s: link %s drops the access_token", url, link)
			}
		}
	}
}

// TestNumberMatchedOfEverything: an unfiltered listing reports the live
// count kept by the store, through creates and deletes, and a filtered one
// its exact count.
func TestNumberMatchedOfEverything(t *testing.T) {
	e := newEnvAt(t, filepath.Join(t.TempDir(), "count.db"), sqlite.Options{})
	var ids []int64
	for i := 0; i < 6; i++ {
		ids = append(ids, e.createIncident(44+float64(i)/10, 33, nil))
	}
	e.do("DELETE", fmt.Sprintf("/collections/incidents/items/%d", ids[0]), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
	if n := e.count("/collections/incidents/items?limit=2"); n != 5 {
		t.Fatalf("numberMatched %d, want 5 live incidents", n)
	}
	if n := e.count("/collections/incidents/items?type=indirect_fire&limit=1"); n != 5 {
		t.Fatalf("numberMatched %d under a type filter, want 5", n)
	}
}

// TestExtentsHoldEveryPoint: the extent of /collections/{id} and the bounds
// of /tiles.json are the exact box of the features as stored (written
// rounded to 7 decimals), on either engine, at every magnitude: SQLite's
// R*Tree holds 32-bit floats, 6 significant digits lost 5e-4° at 123°, and
// a box rounded outwards from 7-decimal values had grown by a decimal.
func TestExtentsHoldEveryPoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		points [][2]float64
		want   [4]float64
	}{
		{"past 100°", [][2]float64{{123.45649, 45}, {123.4, 44.9}}, [4]float64{123.4, 44.9, 123.45649, 45}},
		{"a float32 step apart", [][2]float64{{123.456489999, 45.0000001}, {123.45649, 45.00000012}, {123.4564899, 45.0000002}},
			[4]float64{123.4564899, 45.0000001, 123.45649, 45.0000002}},
		{"just below zero, stored as zero", [][2]float64{{-1e-8, -4e-8}, {0.5, 0.5}}, [4]float64{0, 0, 0.5, 0.5}},
		{"more decimals than written", [][2]float64{{-179.99999999, -84.99999999}, {179.12345678, 84.12345671}},
			[4]float64{-180, -85, 179.1234568, 84.1234567}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for i, p := range tc.points {
				e.createIncident(p[0], p[1], nil)
				e.createFacility(p[0], p[1], "Post "+strconv.Itoa(i))
			}
			for _, c := range []string{"incidents", "facilities"} {
				body := e.do("GET", "/collections/"+c, nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
				bbox := body["extent"].(map[string]any)["spatial"].(map[string]any)["bbox"].([]any)[0].([]any)
				if got := [4]float64{bbox[0].(float64), bbox[1].(float64), bbox[2].(float64), bbox[3].(float64)}; got != tc.want {
					t.Errorf("%s extent %v, want %v", c, got, tc.want)
				}
			}
			bounds := e.do("GET", "/tiles.json", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["bounds"].([]any)
			if got := [4]float64{bounds[0].(float64), bounds[1].(float64), bounds[2].(float64), bounds[3].(float64)}; got != tc.want {
				t.Errorf("tiles.json bounds %v, want %v", got, tc.want)
			}
		})
	}
}
