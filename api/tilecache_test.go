package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/storetest"
)

// tileWatch is a store's incident service and data version as a server
// with a tile cache sees them, watched. It counts the tiles made: making
// a tile (of a filter that does not miss it) groups its incidents once, so
// the count tells tiles made from tiles served from the cache. While gate
// is open (not closed), grouping waits for it. And it notes whether the
// version moved between two of the cache's reads since settle.
type tileWatch struct {
	domain.IncidentService
	versions domain.DataVersioner
	made     atomic.Int64
	gate     chan struct{}

	mu    sync.Mutex
	last  *domain.DataVersion
	moved bool
}

func (w *tileWatch) ClusterIncidents(ctx context.Context, f domain.IncidentFilter, z int) ([]domain.IncidentCluster, error) {
	w.made.Add(1)
	if w.gate != nil {
		<-w.gate
	}
	return w.IncidentService.ClusterIncidents(ctx, f, z)
}

func (w *tileWatch) DataVersion(ctx context.Context) (domain.DataVersion, error) {
	v, err := w.versions.DataVersion(ctx)
	if err == nil {
		w.mu.Lock()
		w.moved = w.moved || (w.last != nil && *w.last != v)
		w.last = &v
		w.mu.Unlock()
	}
	return v, err
}

// settle says the test is done writing: from the cache's next read on,
// the version should stay put.
func (w *tileWatch) settle() {
	w.mu.Lock()
	w.last, w.moved = nil, false
	w.mu.Unlock()
}

// cachedEnv is a server with a tile cache of budget bytes on a fresh
// database of the engine under test (storetest.Open), and the watch of
// the tiles it made.
func cachedEnv(t *testing.T, budget int64) (*env, *tileWatch) {
	t.Helper()
	db := storetest.Open(t)
	versions, ok := db.Services.(domain.DataVersioner)
	if !ok {
		t.Fatalf("%s tells no data version: its tiles are not cached", db.Engine)
	}
	w := &tileWatch{IncidentService: db, versions: versions}
	svc := api.Services{Incidents: w, Facilities: db, Actors: db, Tokens: db, Alerts: db, Webhooks: db, DB: db, Versions: w}
	return newEnvWith(t, db, svc, api.Options{AlertSignal: db.Signal, TileCacheBytes: budget}), w
}

// wantMade fails unless the server has made n tiles so far. On PostGIS
// the version is the server's snapshot, which a commit in any of its
// databases moves, so a tile made again while the version moved with no
// write of the test's own proves nothing: wantMade skips the try then
// (see quietly).
func wantMade(t *testing.T, w *tileWatch, n int64, what string) {
	t.Helper()
	if got := w.made.Load(); got != n {
		w.mu.Lock()
		moved := w.moved
		w.mu.Unlock()
		if moved && storetest.PostGIS() {
			t.Skipf("%s: %d tiles made, want %d, but the server's snapshot moved meanwhile", what, got, n)
		}
		t.Fatalf("%s: %d tiles made, want %d", what, got, n)
	}
}

// quietly runs scenario, which counts the tiles made, again when wantMade
// skipped it, until a try runs through; three tries skipped in a row fail
// the test, so a server that writes as it serves tiles cannot pass.
func quietly(t *testing.T, scenario func(t *testing.T)) {
	t.Helper()
	for try := 1; try <= 3; try++ {
		skipped := false
		t.Run(fmt.Sprintf("try %d", try), func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			scenario(t)
		})
		if !skipped {
			return
		}
	}
	t.Fatal("the data version moved under each of three tries while they only read: " +
		"the server writes as it serves tiles, or other databases of the PostgreSQL server commit all the time")
}

// basrahTile is the z8 tile of the seeded Basrah consulate's area.
var basrahTile = maptile.At(orb.Point{47.66, 30.55}, 8)

func inBasrahTile(dx float64) orb.Point {
	c := basrahTile.Bound().Center()
	return orb.Point{c[0] + dx, c[1]}
}

// TestTileCacheNeverServesAStaleTile: a tile asked for again is sent as it
// was made (the same bytes and ETag, and a 304 for that ETag) without
// being made again, until something it shows changes: a write through the
// API, a write through another replica (another process on the same
// SQLite file or PostGIS database), or a posture change recorded ahead of
// time coming into effect. Then it is made anew.
func TestTileCacheNeverServesAStaleTile(t *testing.T) {
	tests := []struct {
		name string
		// change alters what the tile shows; id is the incident in it.
		change func(t *testing.T, e *env, id int64)
		// want checks the new tile.
		want func(t *testing.T, layers []mvtLayer)
	}{
		{"an incident created through the API", func(t *testing.T, e *env, _ int64) {
			e.createIncident(inBasrahTile(0.01)[0], inBasrahTile(0.01)[1], nil)
		}, wantIncidents(2)},
		{"an incident moved out through the API", func(t *testing.T, e *env, id int64) {
			e.do("PUT", fmt.Sprintf("/collections/incidents/items/%d", id), incidentJSON(10, 10, nil), domain.RoleOfficer).wantStatus(http.StatusOK)
		}, wantIncidents(0)},
		{"an incident deleted through the API", func(t *testing.T, e *env, id int64) {
			e.do("DELETE", fmt.Sprintf("/collections/incidents/items/%d", id), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
		}, wantIncidents(0)},
		{"an import through another replica", func(t *testing.T, e *env, _ int64) {
			p := inBasrahTile(-0.01)
			inc := &domain.Incident{Type: "protest", Title: "Protest at the gate", Location: p, Severity: 2,
				OccurredAt: time.Date(2018, 9, 7, 12, 0, 0, 0, time.UTC)}
			res, err := e.store.Replica(t).ImportIncidents(context.Background(), []*domain.Incident{inc}, nil)
			if err != nil || res[0].Outcome != domain.ImportCreated {
				t.Fatalf("import: %v %+v", err, res)
			}
		}, wantIncidents(2)},
		{"an incident deleted through another replica", func(t *testing.T, e *env, id int64) {
			if err := e.store.Replica(t).DeleteIncident(context.Background(), id, 0); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}, wantIncidents(0)},
		{"a facility created through the API", func(t *testing.T, e *env, _ int64) {
			e.createFacility(inBasrahTile(0.02)[0], inBasrahTile(0.02)[1], "Basrah annex")
		}, func(t *testing.T, layers []mvtLayer) {
			if got := postures(layers); got["Basrah annex"] != "normal" {
				t.Errorf("the new annex is %q in the tile, want normal", got["Basrah annex"])
			}
		}},
		{"a posture recorded ahead of time coming into effect", func(t *testing.T, e *env, _ int64) {
			fac := e.createFacility(inBasrahTile(0.02)[0], inBasrahTile(0.02)[1], "Basrah annex")
			start := time.Now().UTC()
			*e.store.Now = func() time.Time { return start }
			e.do("POST", fmt.Sprintf("/collections/facilities/items/%d/postures", fac), map[string]any{
				"posture": "relocated", "effective_at": start.Add(time.Hour).Format(time.RFC3339)}, domain.RoleOfficer).wantStatus(http.StatusCreated)
			layers, _ := e.getTile(tileURL(8, int(basrahTile.X), int(basrahTile.Y), ""))
			if got := postures(layers); got["Basrah annex"] != "normal" {
				t.Fatalf("before its effective_at the annex is %q, want normal", got["Basrah annex"])
			}
			*e.store.Now = func() time.Time { return start.Add(2 * time.Hour) }
		}, func(t *testing.T, layers []mvtLayer) {
			if got := postures(layers); got["Basrah annex"] != "relocated" {
				t.Errorf("after its effective_at the annex is %q, want relocated", got["Basrah annex"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quietly(t, func(t *testing.T) {
				e, watch := cachedEnv(t, 0)
				p := inBasrahTile(0)
				id := e.createIncident(p[0], p[1], nil)
				watch.settle()
				u := tileURL(8, int(basrahTile.X), int(basrahTile.Y), "")
				_, first := e.getTile(u)
				tag := first.Header().Get("ETag")
				_, again := e.getTile(u)
				e.do("GET", u, nil, domain.RoleAnalyst, "If-None-Match", tag).wantStatus(http.StatusNotModified)
				wantMade(t, watch, 1, "three requests of one tile")
				if !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) || again.Header().Get("ETag") != tag || tag == "" {
					t.Fatalf("asked again, the tile changed: ETag %q → %q", tag, again.Header().Get("ETag"))
				}

				tt.change(t, e, id)
				// One request makes one tile or none: however the version
				// moves, a tile not made is a stale one.
				watch.settle()
				before := watch.made.Load()
				layers, changed := e.getTile(u)
				if changed.Code == http.StatusOK && changed.Header().Get("ETag") == tag {
					t.Fatalf("the tile kept its ETag %s after the change", tag)
				}
				tt.want(t, layers)
				wantMade(t, watch, before+1, "the tile after the change")
				e.do("GET", u, nil, domain.RoleAnalyst, "If-None-Match", tag).wantStatus(changed.Code)
			})
		})
	}
}

// wantIncidents checks that a tile's incidents layer holds n incidents.
func wantIncidents(n int) func(*testing.T, []mvtLayer) {
	return func(t *testing.T, layers []mvtLayer) {
		t.Helper()
		if got := owned(layerNamed(layers, "incidents")); got != n {
			t.Errorf("the tile holds %d incidents, want %d", got, n)
		}
	}
}

// postures are the facilities of a tile's facilities layer by name.
func postures(layers []mvtLayer) map[string]any {
	out := map[string]any{}
	if l := layerNamed(layers, "facilities"); l != nil {
		for _, f := range l.features {
			out[f.props["name"].(string)] = f.props["posture"]
		}
	}
	return out
}

// TestTileCacheKeys: what changes a tile is part of its key — the tile,
// each filter, the encoding — and access_token is not.
func TestTileCacheKeys(t *testing.T) {
	quietly(t, func(t *testing.T) {
		e, watch := cachedEnv(t, 0)
		for i, typ := range []string{"protest", "protest", "indirect_fire"} {
			p := inBasrahTile(float64(i) * 0.01)
			e.createIncident(p[0], p[1], map[string]any{"type": typ})
		}
		watch.settle()
		u := tileURL(8, int(basrahTile.X), int(basrahTile.Y), "")
		tests := []struct {
			name    string
			url     string
			headers []string
			want    int   // incidents in the tile
			made    int64 // tiles made so far
		}{
			{"no filter", u, nil, 3, 1},
			{"protests", u + "?type=protest", nil, 2, 2},
			{"indirect fire", u + "?type=indirect_fire", nil, 1, 3},
			{"protests again", u + "?type=protest", nil, 2, 3},
			{"gzipped", u + "?type=protest", []string{"Accept-Encoding", "gzip"}, 2, 4},
			{"gzipped again", u + "?type=protest", []string{"Accept-Encoding", "gzip"}, 2, 4},
			{"another tile", tileURL(8, int(basrahTile.X)+1, int(basrahTile.Y), ""), nil, 0, 5},
			{"access_token is not a filter", u + "?access_token=" + e.tokens[domain.RoleAnalyst], nil, 3, 5},
		}
		for _, tt := range tests {
			layers, r := e.getTile(tt.url, tt.headers...)
			if got := owned(layerNamed(layers, "incidents")); got != tt.want {
				t.Errorf("%s: %d incidents, want %d", tt.name, got, tt.want)
			}
			if (r.Header().Get("Content-Encoding") == "gzip") != (len(tt.headers) > 0) {
				t.Errorf("%s: Content-Encoding %q", tt.name, r.Header().Get("Content-Encoding"))
			}
			wantMade(t, watch, tt.made, tt.name)
		}
	})
}

// TestTileCacheMakesConcurrentMissesOnce: sixteen clients asking for one
// tile that is not cached get one tile, made once.
func TestTileCacheMakesConcurrentMissesOnce(t *testing.T) {
	quietly(t, func(t *testing.T) {
		e, watch := cachedEnv(t, 0)
		p := inBasrahTile(0)
		e.createIncident(p[0], p[1], nil)
		watch.settle()
		watch.gate = make(chan struct{})
		u := tileURL(8, int(basrahTile.X), int(basrahTile.Y), "")
		const clients = 16
		bodies := make([][]byte, clients)
		codes := make([]int, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest("GET", u, nil)
				req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleAnalyst])
				rec := httptest.NewRecorder()
				e.server.ServeHTTP(rec, req)
				codes[i], bodies[i] = rec.Code, rec.Body.Bytes()
			}()
		}
		// Long enough for every client to be waiting for the one making it.
		time.Sleep(300 * time.Millisecond)
		close(watch.gate)
		wg.Wait()
		for i := range clients {
			if codes[i] != http.StatusOK || !bytes.Equal(bodies[i], bodies[0]) {
				t.Fatalf("client %d: status %d, %d bytes; client 0: %d bytes", i, codes[i], len(bodies[i]), len(bodies[0]))
			}
		}
		wantMade(t, watch, 1, "sixteen concurrent requests of one tile")
	})
}

// TestTileCacheBudget: with room for one tile, asking for a second evicts
// the first, and asking for the first again makes it again. An entry costs
// its body, key and ETag and about 256 bytes more, so 800 bytes hold one
// tile of 150 to 300 bytes but not two.
func TestTileCacheBudget(t *testing.T) {
	quietly(t, func(t *testing.T) {
		e, watch := cachedEnv(t, 800)
		p := inBasrahTile(0)
		e.createIncident(p[0], p[1], nil)
		watch.settle()
		a := tileURL(8, int(basrahTile.X), int(basrahTile.Y), "")
		b := tileURL(8, int(basrahTile.X), int(basrahTile.Y), "type=indirect_fire")
		for i, step := range []struct {
			url  string
			made int64
		}{{a, 1}, {a, 1}, {b, 2}, {b, 2}, {a, 3}, {b, 4}} {
			_, r := e.getTile(step.url)
			if r.Body.Len() < 150 || r.Body.Len() > 300 {
				t.Fatalf("a tile of %d bytes: the budget must hold one and only one", r.Body.Len())
			}
			wantMade(t, watch, step.made, fmt.Sprintf("request %d", i+1))
		}
	})
}

// TestCachedTilesEqualMadeOnes: on one database, a server with the tile
// cache and one without send the same bytes for every tile, facilities
// on tile edges and across the antimeridian included, before and after a
// write.
func TestCachedTilesEqualMadeOnes(t *testing.T) {
	cached, _ := cachedEnv(t, 0)
	st := cached.store
	plain := newEnvWith(t, st, api.Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, Alerts: st,
		Webhooks: st, DB: st}, api.Options{AlertSignal: st.Signal})
	cached.importSynthetic(3000, 5, nil)
	edge := basrahTile.Bound()
	for i, p := range []orb.Point{inBasrahTile(0), edge.Min, edge.Max, {179.999, 10}, {-179.999, 10}, {0, 85.2}, {30, -85.2}} {
		cached.createFacility(p[0], p[1], fmt.Sprintf("post %d", i))
	}
	var urls []string
	for z := 0; z <= 12; z += 2 {
		for _, p := range []orb.Point{inBasrahTile(0), edge.Min, {179.999, 10}, {-179.999, 10}, {44.4, 33.3}} {
			tile := maptile.At(p, maptile.Zoom(z))
			urls = append(urls, tileURL(z, int(tile.X), int(tile.Y), ""), tileURL(z, int(tile.X), int(tile.Y), "type=protest&severity_min=3"))
		}
	}
	compare := func(when string) {
		for _, u := range urls {
			for _, enc := range []string{"", "gzip"} {
				want := plain.do("GET", u, nil, domain.RoleAnalyst, "Accept-Encoding", enc)
				for range 2 { // made, then from the cache
					got := cached.do("GET", u, nil, domain.RoleAnalyst, "Accept-Encoding", enc)
					if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) || got.Header().Get("ETag") != want.Header().Get("ETag") {
						t.Fatalf("%s, %s (%q): cached %d, %d bytes, ETag %s; made %d, %d bytes, ETag %s", when, u, enc,
							got.Code, got.Body.Len(), got.Header().Get("ETag"), want.Code, want.Body.Len(), want.Header().Get("ETag"))
					}
				}
			}
		}
	}
	compare("before a write")
	cached.createFacility(edge.Max[0], edge.Min[1], "post on the corner")
	cached.createIncident(edge.Min[0], edge.Max[1], map[string]any{"type": "protest", "severity": 4})
	compare("after a write")
}
