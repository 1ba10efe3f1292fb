package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

// TestLinksBehindProxies checks the base of every link: --base-url wins,
// a trusted proxy's Forwarded or X-Forwarded-* come next, and an untrusted
// peer's forwarding headers are ignored. The next link of a page must
// work behind a path prefix, as GDAL and QGIS page by it.
func TestLinksBehindProxies(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.createIncident(44.36, 33.31, nil)
	}
	server := func(opts api.Options) *api.Server {
		srv, err := api.NewWithOptions(api.Services{Incidents: e.store, Facilities: e.store, Actors: e.store, Tokens: e.store, DB: e.store},
			slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	plain := server(api.Options{})
	trusting := server(api.Options{TrustedProxies: []string{"192.0.2.0/24"}}) // httptest's peer is 192.0.2.1
	other := server(api.Options{TrustedProxies: []string{"198.51.100.7"}})
	based := server(api.Options{BaseURL: "https://ops.example.org/postwatch/", TrustedProxies: []string{"192.0.2.0/24"}})
	proxied := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "maps.example.org", "X-Forwarded-Prefix", "/pw/"}
	tests := []struct {
		name    string
		srv     *api.Server
		headers []string
		want    string // the base of every link
	}{
		{"no proxy", plain, nil, "http://example.com"},
		{"forwarding headers from an untrusted peer", plain, proxied, "http://example.com"},
		{"forwarding headers from a peer not in the list", other, proxied, "http://example.com"},
		{"X-Forwarded-* from a trusted proxy", trusting, proxied, "https://maps.example.org/pw"},
		{"lists take their first element", trusting, []string{"X-Forwarded-Proto", "https, http", "X-Forwarded-Host", "a.example.org, b.example.org"}, "https://a.example.org"},
		{"Forwarded from a trusted proxy", trusting, []string{"Forwarded", `for=203.0.113.4;proto=https;host="maps.example.org:8443", for=192.0.2.9`}, "https://maps.example.org:8443"},
		{"Forwarded wins over X-Forwarded", trusting, []string{"Forwarded", "proto=https;host=a.example.org", "X-Forwarded-Host", "b.example.org"}, "https://a.example.org"},
		{"a host that is not a host is ignored", trusting, []string{"X-Forwarded-Host", "evil.example/x?y", "X-Forwarded-Proto", "javascript"}, "http://example.com"},
		{"a prefix that is not a path is ignored", trusting, []string{"X-Forwarded-Prefix", "//evil.example"}, "http://example.com"},
		{"--base-url wins over everything", based, proxied, "https://ops.example.org/postwatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			get := func(url string) (*httptest.ResponseRecorder, map[string]any) {
				req := httptest.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleAnalyst])
				for i := 0; i+1 < len(tc.headers); i += 2 {
					req.Header.Set(tc.headers[i], tc.headers[i+1])
				}
				rec := httptest.NewRecorder()
				tc.srv.ServeHTTP(rec, req)
				r := &response{rec, t}
				r.wantStatus(http.StatusOK)
				return rec, r.json()
			}
			_, page := get(incidentItems + "?limit=2")
			var next string
			for _, l := range page["links"].([]any) {
				href := l.(map[string]any)["href"].(string)
				if !strings.HasPrefix(href, tc.want+"/") {
					t.Errorf("link %s does not start with %s/", href, tc.want)
				}
				if l.(map[string]any)["rel"] == "next" {
					next = href
				}
			}
			if next == "" {
				t.Fatal("no next link")
			}
			// Following next: the proxy strips its prefix; the rest is the server's.
			path := strings.TrimPrefix(next, tc.want)
			_, second := get(path)
			if n := len(second["features"].([]any)); n != 1 {
				t.Errorf("the next page holds %d features, want 1", n)
			}
			_, landing := get("/")
			for _, l := range landing["links"].([]any) {
				if href := l.(map[string]any)["href"].(string); !strings.HasPrefix(href, tc.want+"/") {
					t.Errorf("landing link %s does not start with %s/", href, tc.want)
				}
			}
		})
	}
	t.Run("Location of a created feature", func(t *testing.T) {
		req := httptest.NewRequest("POST", incidentItems, strings.NewReader(validIncidentText()))
		req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleOfficer])
		req.Header.Set("Content-Type", "application/geo+json")
		rec := httptest.NewRecorder()
		based.ServeHTTP(rec, req)
		if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, "https://ops.example.org/postwatch/collections/incidents/items/") {
			t.Errorf("Location %q", loc)
		}
	})
	t.Run("a bad base URL is refused", func(t *testing.T) {
		for _, bad := range []string{"ops.example.org", "ftp://x", "https://x/p?q=1", "https://x/#f", "/relative"} {
			if _, err := api.NewWithOptions(api.Services{Incidents: e.store, Facilities: e.store, Actors: e.store, Tokens: e.store, DB: e.store},
				slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{BaseURL: bad}); err == nil {
				t.Errorf("base URL %q accepted", bad)
			}
		}
	})
}
