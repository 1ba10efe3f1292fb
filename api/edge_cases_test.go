package api_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
	"path/filepath"
)

// A huge offset is a valid request (an empty page), not a 500.
func TestHugeOffsetsGiveEmptyPages(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sqlite.Options
		url  string
	}{
		{"grid merge, overflow", sqlite.Options{}, "/collections/incidents/items?bbox=44,33,45,34&offset=9223372036854775807"},
		{"wide walk, huge", sqlite.Options{}, "/collections/incidents/items?bbox=-180,-90,180,90&offset=1000000000000"},
		{"tree, overflow", sqlite.Options{NoGrid: true}, "/collections/incidents/items?bbox=44,33,45,34&offset=9223372036854775807"},
		{"sql path, overflow", sqlite.Options{}, "/collections/incidents/items?type=protest&offset=9223372036854775807"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The default options are the engine of the run's; the others
			// choose SQLite's strategies.
			var e *env
			if tc.opts == (sqlite.Options{}) {
				e = newEnv(t)
			} else {
				e = newEnvAt(t, filepath.Join(t.TempDir(), "t.db"), tc.opts)
			}
			e.createIncident(44.5, 33.5, nil)
			r := e.do("GET", tc.url, nil, domain.RoleAnalyst)
			if r.Code != http.StatusOK {
				t.Errorf("%s: status %d: %.300s", tc.url, r.Code, r.Body.String())
			}
		})
	}
}

// A published_at whose UTC year falls outside 0..9999 is accepted by
// validation and then fails json.Marshal of the extra column: 500.
func TestPublishedAtOutsideFourDigitYears(t *testing.T) {
	e := newEnv(t)
	body := incidentJSON(44.5, 33.5, map[string]any{"sources": []any{map[string]any{"url": "https://x.org/a", "title": "a", "published_at": "0000-01-01T00:30:00+01:00"}}})
	r := e.do("POST", "/collections/incidents/items", body, domain.RoleOfficer)
	if r.Code >= 500 {
		t.Errorf("status %d: %.300s", r.Code, r.Body.String())
	}
}

// Shared cached incidents read by every renderer while another writer edits.
func TestRenderersShareCachedIncidentsWithWriters(t *testing.T) {
	e := newEnv(t)
	fac := e.createFacility(44.5, 33.5, "F")
	var ids []int64
	for i := range 20 {
		ids = append(ids, e.createIncident(44.4+float64(i)*0.01, 33.5, map[string]any{"tags": []any{"a"}, "occurred_at": "2026-11-26T05:00:00Z"}))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 30 {
			id := ids[i%len(ids)]
			r := e.do("PUT", "/collections/incidents/items/"+strconv.FormatInt(id, 10), incidentJSON(44.4+float64(i%7)*0.01, 33.5, map[string]any{"title": "v" + strconv.Itoa(i), "occurred_at": "2026-11-26T05:00:00Z"}), domain.RoleOfficer)
			_ = r
		}
	}()
	urls := []string{
		"/collections/incidents/items?bbox=44,33,45,34&limit=100",
		"/collections/incidents/items?near=44.5,33.5&radius=50000&limit=100",
		"/collections/incidents/items?bbox=44,33,45,34&f=csv",
		"/collections/incidents/items?bbox=44,33,45,34&f=stix",
		"/collections/incidents/items?bbox=44,33,45,34&f=html",
		"/collections/facilities/items/" + strconv.FormatInt(fac, 10) + "/threat",
		"/tiles/8/159/102.mvt",
	}
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if r := e.do("GET", u, nil, domain.RoleAnalyst); r.Code >= 500 {
					t.Errorf("%s: %d", u, r.Code)
				}
			}
		}()
	}
	wg.Wait()
	<-done
}
