package api_test

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestAlternateLinks: OGC API – Features Part 1 (/req/core/f-links,
// /req/core/fc-links, and the collection's links) wants a link of rel
// alternate to every other format a resource is offered in. Each keeps
// the request's query with f replaced, and answers in the type it names.
func TestAlternateLinks(t *testing.T) {
	e := newEnv(t)
	inc := e.createIncident(44.36, 33.31, map[string]any{"type": "ied"})
	fac := e.createFacility(47.66, 30.55, "Consulate General Basrah")
	token := url.QueryEscape(e.tokens[domain.RoleAnalyst])
	html, csv, stix := "text/html", "text/csv", "application/stix+json;version=2.1"

	for _, tt := range []struct {
		url  string
		want map[string]string // alternate type → its f
	}{
		{fmt.Sprintf("%s/%d?access_token=%s", incidentItems, inc, token), map[string]string{html: "html", stix: "stix"}},
		{fmt.Sprintf("%s/%d?f=json&access_token=%s", incidentItems, inc, token), map[string]string{html: "html", stix: "stix"}},
		{fmt.Sprintf("%s/%d?f=geojson&access_token=%s", facilityItems, fac, token), map[string]string{html: "html"}},
		{incidentItems + "?type=ied&limit=5&sortby=-severity&access_token=" + token, map[string]string{html: "html", csv: "csv", stix: "stix"}},
		{facilityItems + "?f=geojson&limit=5&access_token=" + token, map[string]string{html: "html", csv: "csv"}},
		{"/collections/incidents?access_token=" + token, map[string]string{html: "html"}},
		{"/collections/facilities?f=json&access_token=" + token, map[string]string{html: "html"}},
	} {
		t.Run(tt.url, func(t *testing.T) {
			e := e.in(t)
			req, _ := url.Parse(tt.url)
			body := e.do("GET", tt.url, nil, "").wantStatus(http.StatusOK).json()
			got := map[string]string{}
			for _, l := range body["links"].([]any) {
				l := l.(map[string]any)
				if l["rel"] != "alternate" {
					continue
				}
				typ, _ := l["type"].(string)
				href, err := url.Parse(l["href"].(string))
				if err != nil {
					t.Fatalf("alternate %v: %v", l, err)
				}
				f := href.Query().Get("f")
				got[typ] = f
				want := req.Query()
				want.Set("f", f)
				if href.Path != req.Path || href.Query().Encode() != want.Encode() {
					t.Errorf("alternate %s is %s, want %s?%s", typ, href, req.Path, want.Encode())
				}
				r := e.do("GET", href.RequestURI(), nil, "").wantStatus(http.StatusOK)
				gotType, gotParams, _ := mime.ParseMediaType(r.Header().Get("Content-Type"))
				wantType, wantParams, _ := mime.ParseMediaType(typ)
				if gotType != wantType || (wantParams["version"] != "" && gotParams["version"] != wantParams["version"]) {
					t.Errorf("alternate %s answers %s", typ, r.Header().Get("Content-Type"))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("alternates %v, want %v", got, tt.want)
			}
			self := slices.IndexFunc(body["links"].([]any), func(l any) bool { return l.(map[string]any)["rel"] == "self" })
			if self < 0 {
				t.Errorf("no self link")
			}
		})
	}
}
