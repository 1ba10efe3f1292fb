package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// bigPage is a page of n incidents with long titles, as f=html&limit=10000
// renders.
func bigPage(n int) *featurePage {
	fp := &featurePage{matched: n, features: make([]feature, n)}
	for i := range fp.features {
		inc := &domain.Incident{ID: int64(i + 1), Location: orb.Point{44, 33}, Type: "protest", Severity: 2, Status: "reported",
			Title: "Protesters gather <b>outside</b> the consulate gate & chant " + string(rune('a'+i%26)), OccurredAt: time.Unix(1536382800, 0).UTC()}
		fp.features[i] = incidentFeature(inc, nil)
	}
	return fp
}

func htmlContext(ctx context.Context, w http.ResponseWriter) *gin.Context {
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/collections/incidents/items?f=html&limit=10000", nil).WithContext(ctx)
	return c
}

// TestItemsPageRendersInLinearWork: ten times the rows cost about ten times
// the memory allocated, not a hundred (string concatenation took 33
// CPU-seconds for 10,000 rows). Bytes allocated, unlike time, do not
// depend on how busy the machine is.
func TestItemsPageRendersInLinearWork(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	col := &collection{s: s, id: "incidents", title: "Incidents"}
	render := func(n int) (allocated uint64, written int) {
		fp := bigPage(n)
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s.itemsPage(htmlContext(context.Background(), rec), col, fp)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, rec.Body.Len()
	}
	render(1000) // warm up the templates
	small, smallBytes := render(1000)
	big, bigBytes := render(10000)
	if bigBytes < 9*smallBytes {
		t.Fatalf("10,000 rows wrote %d bytes, 1,000 rows %d", bigBytes, smallBytes)
	}
	// Quadratic growth would make the ratio about 100.
	if big > 20*small+(1<<20) {
		t.Fatalf("10,000 rows allocated %d bytes, 1,000 rows %d: not linear", big, small)
	}
}

// cancelAfterWrite cancels the request's context once the page has begun.
type cancelAfterWrite struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (w *cancelAfterWrite) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.ResponseRecorder.Write(p)
}

// TestItemsPageStopsWithTheRequest: a page whose request has ended is not
// rendered (503 for a deadline, nothing for a client that left), and one
// that ends mid-page is cut off rather than finished or passed off whole.
func TestItemsPageStopsWithTheRequest(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	col := &collection{s: s, id: "incidents", title: "Incidents"}
	fp := bigPage(10000)

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	rec := httptest.NewRecorder()
	s.itemsPage(htmlContext(expired, rec), col, fp)
	if rec.Code != http.StatusServiceUnavailable || !bytes.Contains(rec.Body.Bytes(), []byte(`"status":503`)) {
		t.Fatalf("past its deadline: %d %s", rec.Code, rec.Body.String())
	}

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	rec = httptest.NewRecorder()
	s.itemsPage(htmlContext(gone, rec), col, fp)
	if rec.Body.Len() != 0 {
		t.Fatalf("a client that left got %d bytes", rec.Body.Len())
	}

	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfterWrite{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Fatalf("cut mid-page: recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		s.itemsPage(htmlContext(ctx, w), col, fp)
	}()
	if n := w.Body.Len(); n == 0 || n > 64<<10 || bytes.Contains(w.Body.Bytes(), []byte("</html>")) {
		t.Fatalf("cut mid-page after %d bytes (complete: %v)", n, bytes.Contains(w.Body.Bytes(), []byte("</html>")))
	}
}
