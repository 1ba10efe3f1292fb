package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// linkNext is the target of the rel="next" Link header, or "".
var linkNext = regexp.MustCompile(`<([^>]*)>;\s*rel="next"`)

// TestItemsNextLinkHeader: a page of items in a format without a links
// member (CSV, a STIX bundle) names its next page in a Link header (RFC
// 8288, as OGC API – Features Part 1 recommends, /rec/core/link-header),
// so a client walks a whole result in that format; a JSON page carries
// the same link in the header and in its links.
func TestItemsNextLinkHeader(t *testing.T) {
	e := newEnv(t)
	const n = 7
	for i := range n {
		e.createIncident(44.4+float64(i)/100, 33.3, map[string]any{"occurred_at": fmt.Sprintf("2019-05-0%dT10:00:00Z", i+1)})
	}
	e.createIncident(47.6, 30.5, map[string]any{"type": "protest"})
	tests := []struct {
		name, query string
		rows        func(t *testing.T, body []byte) int
	}{
		{"csv", "f=csv&type=indirect_fire&limit=3", func(t *testing.T, body []byte) int {
			recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
			if err != nil || len(recs) == 0 || recs[0][0] != "id" {
				t.Fatalf("not a CSV page with its header: %v\n%s", err, body)
			}
			return len(recs) - 1
		}},
		{"stix", "f=stix&type=indirect_fire&limit=3", func(t *testing.T, body []byte) int {
			return len(validSTIX(t, body)["incident"])
		}},
		{"json", "type=indirect_fire&limit=3", func(t *testing.T, body []byte) int {
			var fc struct {
				Features []any `json:"features"`
			}
			if err := json.Unmarshal(body, &fc); err != nil {
				t.Fatal(err)
			}
			return len(fc.Features)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			u, rows, pages := "/collections/incidents/items?"+tt.query, 0, 0
			for u != "" {
				if pages++; pages > n {
					t.Fatalf("more than %d pages", n)
				}
				r := e.do("GET", u, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
				rows += tt.rows(t, r.Body.Bytes())
				m := linkNext.FindStringSubmatch(r.Header().Get("Link"))
				if m == nil {
					u = ""
					continue
				}
				next, err := url.Parse(m[1])
				if err != nil || !next.IsAbs() {
					t.Fatalf("next link %q is not an absolute URL (%v)", m[1], err)
				}
				if tt.name != "json" && next.Query().Get("f") != tt.name {
					t.Fatalf("next link %q leaves f=%s", m[1], tt.name)
				}
				u = next.RequestURI()
			}
			if rows != n || pages != 3 {
				t.Errorf("walked %d rows in %d pages through Link headers, want %d in 3", rows, pages, n)
			}
		})
	}
}
