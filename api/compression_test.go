package api_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestResponsesAreCompressed: clients that accept gzip get GeoJSON and CSV
// gzipped, others get them plain, and every answer says it varies with
// Accept-Encoding; bodies too small to gain stay plain.
func TestResponsesAreCompressed(t *testing.T) {
	e := newEnv(t)
	e.importSynthetic(200, 9, nil)
	tests := []struct {
		name, url, acceptEncoding string
		gzipped                   bool
		contentType               string
	}{
		{"GeoJSON items", "/collections/incidents/items?limit=100", "gzip, deflate", true, "application/geo+json"},
		{"CSV items", "/collections/incidents/items?limit=100&f=csv", "gzip", true, "text/csv"},
		{"gzip refused", "/collections/incidents/items?limit=100", "gzip;q=0", false, "application/geo+json"},
		{"no Accept-Encoding", "/collections/incidents/items?limit=100", "", false, "application/geo+json"},
		{"a small body", "/collections/incidents/items?bbox=0,0,1,1", "gzip", false, "application/geo+json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.acceptEncoding != "" {
				h = []string{"Accept-Encoding", tt.acceptEncoding}
			}
			r := e.in(t).do("GET", tt.url, nil, domain.RoleAnalyst, h...).wantStatus(http.StatusOK)
			if !strings.Contains(r.Header().Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", r.Header().Get("Vary"))
			}
			if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.contentType)
			}
			body := r.Body.Bytes()
			if got := r.Header().Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v", r.Header().Get("Content-Encoding"), tt.gzipped)
			}
			if tt.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if tt.contentType == "text/csv" {
				if lines := strings.Count(string(body), "\n"); lines != 101 {
					t.Errorf("%d CSV lines, want a header and 100 rows", lines)
				}
				return
			}
			var fc struct {
				NumberReturned int `json:"numberReturned"`
			}
			if err := json.Unmarshal(body, &fc); err != nil || fc.NumberReturned == 0 && strings.Contains(tt.url, "limit") {
				t.Errorf("not a FeatureCollection (%v): %.200s", err, body)
			}
		})
	}
}

// TestAlertStreamIsNotCompressed: the alert stream comes plain and event by
// event whether the client accepts gzip or not: the opening comment arrives
// at once, not when a compressor's buffer fills.
func TestAlertStreamIsNotCompressed(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	defer e.server.Close()
	// Set explicitly, Accept-Encoding makes the transport leave the body as
	// it was sent.
	for _, acceptEncoding := range []string{"gzip", "identity"} {
		t.Run(acceptEncoding, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/alerts/stream", nil)
			req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleAnalyst])
			req.Header.Set("Accept-Encoding", acceptEncoding)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ce := resp.Header.Get("Content-Encoding"); ce != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("Content-Encoding %q, Content-Type %q", ce, resp.Header.Get("Content-Type"))
			}
			first := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(resp.Body).ReadString('\n')
				first <- line
			}()
			select {
			case line := <-first:
				if !strings.HasPrefix(line, ":") {
					t.Fatalf("first line %q, want the stream's opening comment", line)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("nothing streamed within 5 s")
			}
		})
	}
}

// TestItemsPageLength: a page the stream's buffer holds whole is sent with
// its Content-Length (plain; a gzipped one is sized by its encoder), a
// larger one streams without, and both are whole FeatureCollections.
func TestItemsPageLength(t *testing.T) {
	e := newEnv(t)
	e.importSynthetic(1500, 9, nil)
	for _, tt := range []struct {
		name, url, acceptEncoding string
		sized                     bool
	}{
		{"100 features", "/collections/incidents/items?limit=100", "", true},
		{"100 features, gzipped", "/collections/incidents/items?limit=100", "gzip", false},
		{"1,500 features", "/collections/incidents/items?limit=1500", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.acceptEncoding != "" {
				h = []string{"Accept-Encoding", tt.acceptEncoding}
			}
			r := e.in(t).do("GET", tt.url, nil, domain.RoleAnalyst, h...).wantStatus(http.StatusOK)
			cl := r.Header().Get("Content-Length")
			if got := cl != ""; got != tt.sized {
				t.Fatalf("Content-Length %q, want one: %v", cl, tt.sized)
			}
			if tt.sized && cl != strconv.Itoa(r.Body.Len()) {
				t.Errorf("Content-Length %s, body %d bytes", cl, r.Body.Len())
			}
			if tt.acceptEncoding == "" {
				var fc struct{ Features []json.RawMessage }
				if err := json.Unmarshal(r.Body.Bytes(), &fc); err != nil {
					t.Fatal(err)
				}
				if want := map[bool]int{true: 100, false: 1500}[tt.sized]; len(fc.Features) != want {
					t.Errorf("%d features, want %d", len(fc.Features), want)
				}
			}
		})
	}
}
