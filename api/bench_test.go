package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store/sqlite"
)

// itemsPageURL asks for a 100-feature GeoJSON page, the dashboards' default.
const itemsPageURL = "/collections/incidents/items?limit=100"

// syntheticBBox holds Baghdad, Karbala and Najaf: a few hundred of every
// two thousand synthetic incidents, over few enough cells for a grid merge.
const syntheticBBox = "43,31,46,35"

// itemsAllocBudget is how many allocations a 100-feature page may make per
// feature: the router, the store's rows and the GeoJSON encoding together.
// Measured (go1.26, November 2026): 22.5 per feature from the occurred_at
// walk and from the grid, 23.1 under -race, where sync.Pool drops objects at
// random; most are the driver's boxing of each column. It was 46.8 before
// features were appended as bytes, the extra column read without
// encoding/json, the enumerations packed into one column and rows scanned
// into one reused buffer. The budget is 25% above, so one more allocation per field
// of each feature fails the test while noise does not.
const itemsAllocBudget = 28

// itemsServer is a server over n synthetic incidents and an analyst token.
// It mirrors newEnvAt, which takes a *testing.T and so cannot serve a
// benchmark.
func itemsServer(tb testing.TB, n int) (http.Handler, string) {
	tb.Helper()
	// Without the incident cache, a page's cost is that of reading its rows,
	// which is what the budget guards.
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "items.db"), sqlite.Options{Durability: sqlite.DurabilityNormal, IncidentCacheBytes: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ctx := context.Background()
	var batch []*domain.Incident
	for _, inc := range seeds.Synthetic(n, 42) {
		batch = append(batch, inc)
	}
	if _, err := st.ImportIncidents(ctx, batch, nil); err != nil {
		tb.Fatal(err)
	}
	srv, err := api.New(api.Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, Alerts: st, Webhooks: st, DB: st},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	token, err := st.CreateToken(ctx, &domain.Token{Name: "bench", Role: domain.RoleAnalyst})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, token
}

// discardWriter is a ResponseWriter that keeps only the status and the
// size, so the measurements count the handler's allocations, not a
// recorder's buffer growing.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// pageRequester serves GET url again and again through h, as one client
// would send it; each call reports the status and body size.
func pageRequester(h http.Handler, url, token string) func() (status, size int) {
	base := httptest.NewRequest(http.MethodGet, url, nil)
	base.Header.Set("Authorization", "Bearer "+token)
	base.Header.Set("Accept", "application/geo+json")
	w := &discardWriter{header: http.Header{}}
	return func() (int, int) {
		// Middleware replaces the request's body and context, so each
		// round gets its own shallow copy.
		req := new(http.Request)
		*req = *base
		clear(w.header)
		*w = discardWriter{header: w.header, status: http.StatusOK}
		h.ServeHTTP(w, req)
		return w.status, w.n
	}
}

// BenchmarkItemsEncoding is one 100-feature page through the whole handler:
// router, auth, query parsing, the store and GeoJSON encoding.
func BenchmarkItemsEncoding(b *testing.B) {
	h, token := itemsServer(b, 2000)
	get := pageRequester(h, itemsPageURL, token)
	status, size := get()
	if status != http.StatusOK {
		b.Fatalf("status %d", status)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if status, _ := get(); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	}
}

// TestItemsAllocationBudget guards the per-feature allocations of a page:
// they are what the server spends most of its CPU on beside SQLite. The
// unfiltered page walks the occurred_at index; the bbox page comes from the
// in-memory grid.
func TestItemsAllocationBudget(t *testing.T) {
	h, token := itemsServer(t, 2000)
	for _, url := range []string{itemsPageURL, itemsPageURL + "&bbox=" + syntheticBBox} {
		t.Run(url, func(t *testing.T) { allocationBudget(t, h, token, url) })
	}
}

func allocationBudget(t *testing.T, h http.Handler, token, url string) {
	get := pageRequester(h, url, token)
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var page struct{ Features []json.RawMessage }
	if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("status %d, %v: %s", rec.Code, err, rec.Body.String())
	}
	features := len(page.Features)
	if features != 100 {
		t.Fatalf("the page holds %d features, want 100", features)
	}
	get() // warm the token cache and the connection pool
	status := 0
	allocs := testing.AllocsPerRun(20, func() { status, _ = get() })
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	perFeature := allocs / float64(features)
	t.Logf("%.0f allocations per 100-feature page, %.1f per feature (budget %d)", allocs, perFeature, itemsAllocBudget)
	if perFeature > itemsAllocBudget {
		t.Errorf("a 100-feature page makes %.1f allocations per feature, over the budget of %d", perFeature, itemsAllocBudget)
	}
}
