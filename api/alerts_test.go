package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// ago is an RFC 3339 time d before now.
func ago(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }

// createFacilityR creates a facility with an alert radius in meters.
func (e *env) createFacilityR(lon, lat, radius float64, name string) int64 {
	e.t.Helper()
	body := facilityJSON(lon, lat, name)
	body["properties"].(map[string]any)["alert_radius_m"] = radius
	r := e.do("POST", "/collections/facilities/items", body, domain.RoleAdmin).wantStatus(http.StatusCreated)
	return int64(r.json()["id"].(float64))
}

// storedAlert is an alert as GET /alerts and the stream write it.
type storedAlert struct {
	ID              string  `json:"id"`
	FacilityID      int64   `json:"facility_id"`
	IncidentID      int64   `json:"incident_id"`
	IncidentVersion int     `json:"incident_version"`
	DistanceM       float64 `json:"distance_m"`
	CreatedAt       string  `json:"created_at"`
	Incident        struct {
		Type       string `json:"type"`
		ID         int64  `json:"id"`
		Properties struct {
			Severity int `json:"severity"`
			Version  int `json:"version"`
		} `json:"properties"`
	} `json:"incident"`
}

// alertsAfter lists every stored alert after id (all when ""), following
// the next links.
func (e *env) alertsAfter(after string, query string) []storedAlert {
	e.t.Helper()
	var out []storedAlert
	url := "/alerts?limit=1000" + query
	if after != "" {
		url += "&after=" + after
	}
	for url != "" {
		r := e.do("GET", url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
		var page struct {
			Alerts []storedAlert `json:"alerts"`
			Links  []struct{ Href, Rel string }
		}
		if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page.Alerts...)
		url = ""
		for _, l := range page.Links {
			if l.Rel == "next" {
				url = strings.TrimPrefix(l.Href, "http://example.com")
			}
		}
	}
	return out
}

// TestAlertRules: which incident writes raise alerts, as CONTRACT.md §8
// says: a create within a facility's radius, an update that enters it or
// raises the severity, and only within the alert window (72h).
func TestAlertRules(t *testing.T) {
	e := newEnv(t)
	basrah := e.createFacilityR(47.6625, 30.5489, 5000, "Consulate General Basrah")
	airport := e.createFacilityR(47.75, 30.55, 5000, "Basrah airport office") // 8.4 km east of the consulate
	baghdad := e.createFacilityR(44.3955, 33.2986, 2000, "Embassy Baghdad")
	ids := map[string]int64{}
	var last string
	patch := []string{"Content-Type", "application/merge-patch+json"}
	type want struct {
		facility int64
		version  int
	}
	steps := []struct {
		name  string
		write func(e *env)
		want  []want // new alerts, in storage order
		who   string // incident the alerts are about
	}{
		{"create inside one radius", func(e *env) {
			ids["a"] = e.createIncident(47.64, 30.54, map[string]any{"occurred_at": ago(time.Hour)})
		}, []want{{basrah, 1}}, "a"},
		{"create inside two radii", func(e *env) {
			ids["b"] = e.createIncident(47.705, 30.55, map[string]any{"occurred_at": ago(time.Minute)})
		}, []want{{basrah, 1}, {airport, 1}}, "b"},
		{"create 35 km away", func(e *env) {
			ids["far"] = e.createIncident(47.9, 30.8, map[string]any{"occurred_at": ago(time.Hour)})
		}, nil, ""},
		{"create inside but in 2018", func(e *env) {
			e.createIncident(47.6625, 30.5489, map[string]any{"occurred_at": "2018-09-08T05:00:00Z"})
		}, nil, ""},
		{"create inside, 71 h old", func(e *env) {
			ids["old"] = e.createIncident(44.40, 33.30, map[string]any{"occurred_at": ago(71 * time.Hour)})
		}, []want{{baghdad, 1}}, "old"},
		{"create inside, 73 h old", func(e *env) {
			e.createIncident(44.40, 33.30, map[string]any{"occurred_at": ago(73 * time.Hour)})
		}, nil, ""},
		{"create inside, retracted", func(e *env) {
			e.createIncident(44.40, 33.30, map[string]any{"occurred_at": ago(time.Hour), "status": "retracted"})
		}, nil, ""},
		{"a new title changes nothing", func(e *env) {
			e.do("PATCH", fmt.Sprintf("/collections/incidents/items/%d", ids["a"]), `{"properties":{"title":"Rockets, two"}}`, domain.RoleOfficer, patch...).wantStatus(http.StatusOK)
		}, nil, ""},
		{"severity rising alerts again", func(e *env) {
			e.do("PATCH", fmt.Sprintf("/collections/incidents/items/%d", ids["a"]), `{"properties":{"severity":5}}`, domain.RoleOfficer, patch...).wantStatus(http.StatusOK)
		}, []want{{basrah, 3}}, "a"},
		{"severity falling does not", func(e *env) {
			e.do("PATCH", fmt.Sprintf("/collections/incidents/items/%d", ids["a"]), `{"properties":{"severity":2}}`, domain.RoleOfficer, patch...).wantStatus(http.StatusOK)
		}, nil, ""},
		{"moving into a radius alerts", func(e *env) {
			e.do("PATCH", fmt.Sprintf("/collections/incidents/items/%d", ids["far"]), `{"geometry":{"type":"Point","coordinates":[47.65,30.55]}}`, domain.RoleOfficer, patch...).wantStatus(http.StatusOK)
		}, []want{{basrah, 2}}, "far"},
		{"moving within the radius does not", func(e *env) {
			e.do("PATCH", fmt.Sprintf("/collections/incidents/items/%d", ids["far"]), `{"geometry":{"type":"Point","coordinates":[47.655,30.55]}}`, domain.RoleOfficer, patch...).wantStatus(http.StatusOK)
		}, nil, ""},
		{"a full replace that enters a radius alerts", func(e *env) {
			e.do("PUT", fmt.Sprintf("/collections/incidents/items/%d", ids["old"]), incidentJSON(47.66, 30.55, map[string]any{"occurred_at": ago(time.Hour)}), domain.RoleOfficer).wantStatus(http.StatusOK)
		}, []want{{basrah, 2}}, "old"},
		{"deleting raises nothing", func(e *env) {
			e.do("DELETE", fmt.Sprintf("/collections/incidents/items/%d", ids["b"]), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
		}, nil, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e := e.in(t)
			s.write(e)
			got := e.alertsAfter(last, "")
			if len(got) != len(s.want) {
				t.Fatalf("%d new alerts %+v, want %d", len(got), got, len(s.want))
			}
			for i, a := range got {
				w := s.want[i]
				if a.FacilityID != w.facility || a.IncidentID != ids[s.who] || a.IncidentVersion != w.version ||
					a.Incident.ID != ids[s.who] || a.Incident.Properties.Version != w.version || a.Incident.Type != "Feature" {
					t.Errorf("alert %d: %+v, want facility %d, incident %d v%d", i, a, w.facility, ids[s.who], w.version)
				}
				if a.DistanceM <= 0 || a.DistanceM > 5000 || a.CreatedAt == "" {
					t.Errorf("alert %d: distance %g, created_at %q", i, a.DistanceM, a.CreatedAt)
				}
				if i > 0 && a.ID <= got[i-1].ID {
					t.Errorf("ids %q then %q do not sort in storage order", got[i-1].ID, a.ID)
				}
				last = a.ID
			}
		})
	}
}

// TestAlertWindowOption: the store's alert window decides what is recent.
func TestAlertWindowOption(t *testing.T) {
	path := t.TempDir() + "/w.db"
	e := newEnvAt(t, path, sqlite.Options{AlertWindow: time.Hour})
	e.createFacilityR(47.6625, 30.5489, 5000, "Consulate")
	e.createIncident(47.66, 30.55, map[string]any{"occurred_at": ago(2 * time.Hour)})
	e.createIncident(47.66, 30.55, map[string]any{"occurred_at": ago(30 * time.Minute)})
	if got := e.alertsAfter("", ""); len(got) != 1 {
		t.Fatalf("%d alerts with a 1h window, want 1 (the 30-minute-old incident)", len(got))
	}
}

// TestAlertsList: GET /alerts filters, pages and refuses bad values.
func TestAlertsList(t *testing.T) {
	e := newEnv(t)
	f1 := e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	f2 := e.createFacilityR(44.3955, 33.2986, 5000, "Baghdad")
	for i := range 5 {
		e.createIncident(47.66, 30.55, map[string]any{"occurred_at": ago(time.Hour), "severity": i + 1})
		e.createIncident(44.39, 33.29, map[string]any{"occurred_at": ago(time.Hour), "severity": i + 1})
	}
	all := e.alertsAfter("", "")
	if len(all) != 10 {
		t.Fatalf("%d alerts, want 10", len(all))
	}
	hook := e.do("POST", "/webhooks", map[string]any{"url": "http://127.0.0.1:9/hook"}, domain.RoleAdmin).wantStatus(http.StatusCreated)
	vars := map[string]string{"third": all[2].ID, "hook": fmt.Sprint(hook.json()["id"])}
	e.runSteps(t, vars, []step{
		{name: "a page of three links to the next", method: "GET", url: "/alerts?limit=3", role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				v := r.json()
				if n := len(v["alerts"].([]any)); n != 3 {
					t.Fatalf("%d alerts, want 3", n)
				}
				if !strings.Contains(r.Body.String(), `"rel":"next"`) || !strings.Contains(r.Body.String(), "after="+all[2].ID) {
					t.Fatalf("no next link after %s: %s", all[2].ID, r.Body.String())
				}
			}},
		{name: "after= starts after that alert", method: "GET", url: "/alerts?after={third}", role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				as := r.json()["alerts"].([]any)
				if len(as) != 7 || dig(as, 0, "id") != all[3].ID || strings.Contains(r.Body.String(), `"rel":"next"`) {
					t.Fatalf("after %s: %d alerts from %v, want 7 from %s and no next link", all[2].ID, len(as), dig(as, 0, "id"), all[3].ID)
				}
			}},
		{name: "facility= keeps that facility's", method: "GET", url: fmt.Sprintf("/alerts?facility=%d", f2), role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				as := r.json()["alerts"].([]any)
				for _, a := range as {
					if dig(a, "facility_id") != float64(f2) {
						t.Fatalf("facility=%d answered an alert of %v", f2, dig(a, "facility_id"))
					}
				}
				if len(as) != 5 {
					t.Fatalf("%d alerts, want 5", len(as))
				}
			}},
		{name: "severity_min= and facility= combine", method: "GET", url: fmt.Sprintf("/alerts?facility=%d,%d&severity_min=4", f1, f2), role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				if n := len(r.json()["alerts"].([]any)); n != 4 {
					t.Fatalf("%d alerts of severity ≥ 4, want 4", n)
				}
			}},
		{name: "an unknown after= id lists what follows it", method: "GET", url: "/alerts?after=00000000ffffffff", role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				if n := len(r.json()["alerts"].([]any)); n != 0 {
					t.Fatalf("%d alerts after an id beyond the last, want 0", n)
				}
			}},
		{name: "after= that is no alert id is 400", method: "GET", url: "/alerts?after=latest", role: domain.RoleAnalyst, status: 400, field: "after"},
		{name: "severity_min=high is 400", method: "GET", url: "/alerts?severity_min=high", role: domain.RoleAnalyst, status: 400, field: "severity_min"},
		{name: "severity_min=9 is 400", method: "GET", url: "/alerts?severity_min=9", role: domain.RoleAnalyst, status: 400, field: "severity_min"},
		{name: "facility=x is 400", method: "GET", url: "/alerts?facility=x", role: domain.RoleAnalyst, status: 400, field: "facility"},
		{name: "limit=0 is 400", method: "GET", url: "/alerts?limit=0", role: domain.RoleAnalyst, status: 400, field: "limit"},
		{name: "limit=-1 is 400", method: "GET", url: "/alerts?limit=-1", role: domain.RoleAnalyst, status: 400, field: "limit"},
		{name: "limit=-99999999999999999999 is 400", method: "GET", url: "/alerts?limit=-99999999999999999999", role: domain.RoleAnalyst, status: 400, field: "limit"},
		{name: "a limit past int64 is clamped like any large one", method: "GET", url: "/alerts?limit=99999999999999999999", role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				if n := len(r.json()["alerts"].([]any)); n != 10 {
					t.Fatalf("%d alerts, want all 10", n)
				}
			}},
		{name: "deliveries clamp a limit past int64 too", method: "GET", url: "/webhooks/{hook}/deliveries?limit=99999999999999999999", role: domain.RoleAdmin, status: 200},
		{name: "an unknown parameter is 400", method: "GET", url: "/alerts?since=1", role: domain.RoleAnalyst, status: 400, field: "since"},
		{name: "no token is 401", method: "GET", url: "/alerts", status: 401},
	})
}

// TestImportAlerts: a bulk import of past events raises nothing, while an
// imported fresh event inside a radius alerts like any other write.
func TestImportAlerts(t *testing.T) {
	e := newEnv(t)
	fac := e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	mk := func(ext string, at time.Time, lon, lat float64) *domain.Incident {
		return &domain.Incident{Location: [2]float64{lon, lat}, Type: "indirect_fire", Title: "imported " + ext,
			OccurredAt: at, Severity: 3, ExternalID: &ext}
	}
	var batch []*domain.Incident
	for i := range 200 {
		batch = append(batch, mk(fmt.Sprintf("OLD%d", i), time.Date(2015, 1, 1, 0, 0, i, 0, time.UTC), 47.66, 30.55))
	}
	batch = append(batch, mk("FRESH", time.Now().Add(-time.Hour), 47.661, 30.551), mk("FARAWAY", time.Now(), 10, 10))
	res, err := e.store.ImportIncidents(context.Background(), batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := e.alertsAfter("", "")
	if len(got) != 1 || got[0].IncidentID != res[200].ID || got[0].FacilityID != fac {
		t.Fatalf("alerts %+v, want one for the fresh incident %d", got, res[200].ID)
	}
	// Importing the file again updates the fresh incident without change:
	// nothing new. Raising its severity in a newer file alerts.
	batch[200].Severity = 5
	if _, err := e.store.ImportIncidents(context.Background(), batch[200:201], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportIncidents(context.Background(), batch[200:201], nil); err != nil {
		t.Fatal(err)
	}
	got = e.alertsAfter(got[0].ID, "")
	if len(got) != 1 || got[0].IncidentVersion != 2 || got[0].Incident.Properties.Severity != 5 {
		t.Fatalf("after re-imports: %+v, want one alert for version 2 at severity 5", got)
	}
}

// sseEvent is one Server-Sent Event, or a comment.
type sseEvent struct {
	id, event, data, comment string
}

// sseConn reads a stream's events on a goroutine.
type sseConn struct {
	resp   *http.Response
	events chan sseEvent
}

// openStream connects to srv's alert stream with a query and headers.
func openStream(t *testing.T, srv *httptest.Server, token, query string, headers ...string) (*sseConn, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/alerts/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, resp
	}
	c := &sseConn{resp: resp, events: make(chan sseEvent, 4096)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				c.events <- sseEvent{comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return c, resp
}

// next returns the next event that is not a comment, failing after 5 s.
func (c *sseConn) next(t *testing.T) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.comment == "" {
				return ev
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5 s")
		}
	}
}

// TestAlertStream: live alerts arrive with their ids, filtered; replay by
// Last-Event-ID; unknown ids; posture events; HEAD; the per-token cap;
// revocation and shutdown end the stream.
func TestAlertStream(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	defer e.server.Close()
	basrah := e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	baghdad := e.createFacilityR(44.3955, 33.2986, 5000, "Baghdad")
	before := e.createIncident(47.665, 30.55, map[string]any{"occurred_at": ago(time.Hour)}) // before any client connects
	analyst := e.tokens[domain.RoleAnalyst]

	t.Run("live alerts, filtered", func(t *testing.T) {
		all, _ := openStream(t, srv, analyst, "")
		onlyBaghdad, _ := openStream(t, srv, analyst, fmt.Sprintf("?facility=%d", baghdad))
		severe, _ := openStream(t, srv, analyst, "?severity_min=4")
		e := e.in(t)
		e.createIncident(47.9, 30.8, map[string]any{"occurred_at": ago(time.Hour)}) // 35 km away: no alert
		inBasrah := e.createIncident(47.67, 30.552, map[string]any{"occurred_at": ago(time.Hour), "severity": 2})
		inBaghdad := e.createIncident(44.39, 33.29, map[string]any{"occurred_at": ago(time.Hour), "severity": 5})
		for _, c := range []struct {
			conn *sseConn
			want []int64
		}{{all, []int64{inBasrah, inBaghdad}}, {onlyBaghdad, []int64{inBaghdad}}, {severe, []int64{inBaghdad}}} {
			for _, want := range c.want {
				ev := c.conn.next(t)
				var a storedAlert
				if err := json.Unmarshal([]byte(ev.data), &a); err != nil || ev.event != "alert" {
					t.Fatalf("event %q %s (%v)", ev.event, ev.data, err)
				}
				if a.IncidentID != want || ev.id != a.ID || a.ID == "" {
					t.Fatalf("alert %+v with id %q, want incident %d with its id", a, ev.id, want)
				}
			}
		}
		_ = basrah
	})

	stored := e.alertsAfter("", "")
	if len(stored) != 3 || stored[0].IncidentID != before {
		t.Fatalf("stored alerts %+v, want 3 starting with incident %d", stored, before)
	}
	t.Run("Last-Event-ID replays what followed it", func(t *testing.T) {
		for _, how := range [][]string{{"Last-Event-ID", stored[0].ID}, {"", ""}} {
			var c *sseConn
			if how[0] == "" {
				c, _ = openStream(t, srv, analyst, "?last_event_id="+stored[0].ID)
			} else {
				c, _ = openStream(t, srv, analyst, "", how...)
			}
			for _, want := range stored[1:] {
				if ev := c.next(t); ev.id != want.ID {
					t.Fatalf("replayed %q, want %q", ev.id, want.ID)
				}
			}
		}
	})
	t.Run("an unknown Last-Event-ID replays from the oldest, saying so", func(t *testing.T) {
		for _, id := range []string{"not-an-id", "00000000000fffff", "0000000000000000"} {
			c, _ := openStream(t, srv, analyst, "", "Last-Event-ID", id)
			var said bool
			for ev := range c.events {
				if strings.Contains(ev.comment, "unknown") && strings.Contains(ev.comment, "oldest") {
					said = true
				}
				if ev.comment == "" {
					if !said || ev.id != stored[0].ID {
						t.Fatalf("Last-Event-ID %q: first event %q (comment seen: %v), want %q after a comment", id, ev.id, said, stored[0].ID)
					}
					break
				}
			}
		}
	})
	t.Run("a posture change is an event", func(t *testing.T) {
		c, _ := openStream(t, srv, analyst, fmt.Sprintf("?facility=%d", basrah))
		e := e.in(t)
		e.do("POST", fmt.Sprintf("/collections/facilities/items/%d/postures", baghdad), map[string]any{"posture": "elevated"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
		e.do("POST", fmt.Sprintf("/collections/facilities/items/%d/postures", basrah), map[string]any{"posture": "relocated", "reason": "temporary relocation of diplomatic personnel"}, domain.RoleOfficer).wantStatus(http.StatusCreated)
		ev := c.next(t)
		if ev.event != "posture" || ev.id != "" || !strings.Contains(ev.data, `"relocated"`) || !strings.Contains(ev.data, fmt.Sprintf(`"facility_id":%d`, basrah)) {
			t.Fatalf("event %+v, want Basrah's posture without an id", ev)
		}
	})
	t.Run("HEAD answers at once", func(t *testing.T) {
		req, _ := http.NewRequest("HEAD", srv.URL+"/alerts/stream", nil)
		req.Header.Set("Authorization", "Bearer "+analyst)
		client := &http.Client{Timeout: 3 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
	t.Run("a bad filter is 400 before the stream starts", func(t *testing.T) {
		e.in(t).do("GET", "/alerts/stream?severity_min=x", nil, domain.RoleAnalyst).wantProblem(400, "severity_min")
		e.in(t).do("GET", "/alerts/stream?facility=-1", nil, domain.RoleAnalyst).wantProblem(400, "facility")
	})
	t.Run("streams per token are capped", func(t *testing.T) {
		secret, err := e.store.CreateToken(context.Background(), &domain.Token{Name: "wall screen", Role: domain.RoleAnalyst})
		if err != nil {
			t.Fatal(err)
		}
		var open []*sseConn
		for range 8 {
			c, resp := openStream(t, srv, secret, "")
			if c == nil {
				t.Fatalf("stream %d refused: %d", len(open)+1, resp.StatusCode)
			}
			open = append(open, c)
		}
		if c, resp := openStream(t, srv, secret, ""); c != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("ninth stream: %d, want 429 with Retry-After", resp.StatusCode)
		}
		// Another token is not affected; closing one frees a place.
		if c, resp := openStream(t, srv, analyst, ""); c == nil {
			t.Fatalf("another token's stream: %d", resp.StatusCode)
		}
		open[0].resp.Body.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, resp := openStream(t, srv, secret, "")
			if c != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a place never came free: %d", resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("revoking the token ends its stream", func(t *testing.T) {
		tok := &domain.Token{Name: "revoked soon", Role: domain.RoleAnalyst}
		secret, err := e.store.CreateToken(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := openStream(t, srv, secret, "")
		e.in(t).do("DELETE", "/tokens/"+strconv.FormatInt(tok.ID, 10), nil, domain.RoleAdmin).wantStatus(http.StatusNoContent)
		e.in(t).createIncident(47.666, 30.55, map[string]any{"occurred_at": ago(time.Minute)})
		for {
			ev := c.next(t)
			if ev.event == "alert" {
				t.Fatal("a revoked token's stream received an alert")
			}
			if ev.event == "close" {
				break
			}
		}
	})
	t.Run("Close ends the streams", func(t *testing.T) {
		c, _ := openStream(t, srv, analyst, "")
		e.server.Close()
		if ev := c.next(t); ev.event != "close" {
			t.Fatalf("after Close: %+v, want a close event", ev)
		}
	})
}

// TestPostureEventWhenDue: a posture change recorded ahead of time is sent
// on the stream when it takes effect, not when it is recorded — also one
// recorded before the stream (and its hub) started; a change in effect at
// once is sent at once.
func TestPostureEventWhenDue(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	defer e.server.Close()
	basrah := e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	postures := fmt.Sprintf("/collections/facilities/items/%d/postures", basrah)
	record := func(posture string, at time.Time) {
		e.do("POST", postures, map[string]any{"posture": posture, "effective_at": at.UTC().Format(time.RFC3339Nano)},
			domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	later := time.Now().Add(3 * time.Second)
	record("ordered_departure", later) // before any stream: the hub starts after it
	c, _ := openStream(t, srv, e.tokens[domain.RoleAnalyst], fmt.Sprintf("?facility=%d", basrah))
	soon := time.Now().Add(1500 * time.Millisecond)
	record("authorized_departure", soon)
	record("elevated", time.Now().Add(-time.Minute))
	for _, want := range []struct {
		posture string
		at      time.Time
	}{{"elevated", time.Time{}}, {"authorized_departure", soon}, {"ordered_departure", later}} {
		ev := c.next(t)
		if ev.event != "posture" || !strings.Contains(ev.data, `"posture":"`+want.posture+`"`) {
			t.Fatalf("event %+v, want the posture %s", ev, want.posture)
		}
		if now := time.Now(); now.Before(want.at) {
			t.Fatalf("%s sent %s before it takes effect", want.posture, want.at.Sub(now))
		}
	}
}

// TestAlertStreamResume: a client that is cut off again and again and
// resumes with Last-Event-ID receives every alert exactly once, in order,
// while alerts are written all along.
func TestAlertStreamResume(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	defer e.server.Close()
	e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	const total, disconnects = 300, 100
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range total {
			e.createIncident(47.66+float64(i%10)/1000, 30.55, map[string]any{"occurred_at": ago(time.Minute)})
		}
	}()
	var got []string
	last := ""
	for reconnects := 0; len(got) < total; reconnects++ {
		if reconnects > total+disconnects {
			t.Fatalf("too many reconnects; got %d of %d", len(got), total)
		}
		var c *sseConn
		if last == "" {
			c, _ = openStream(t, srv, e.tokens[domain.RoleAnalyst], "?last_event_id=0000000000000000")
		} else {
			c, _ = openStream(t, srv, e.tokens[domain.RoleAnalyst], "", "Last-Event-ID", last)
		}
		// Read a few events (fewer than the writer makes in the time), then
		// hang up: 100 times over the run.
		want := 1 + reconnects%3
		if reconnects >= disconnects {
			want = total
		}
		for n := 0; n < want && len(got) < total; n++ {
			var ev sseEvent
			select {
			case ev = <-c.events:
			case <-time.After(10 * time.Second):
				t.Fatalf("no event within 10 s after %d alerts", len(got))
			}
			if ev.comment != "" {
				n--
				continue
			}
			got = append(got, ev.id)
			last = ev.id
		}
		c.resp.Body.Close()
	}
	wg.Wait()
	stored := e.alertsAfter("", "")
	ids := make([]string, len(stored))
	for i, a := range stored {
		ids[i] = a.ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("received %d ids, stored %d: gaps or duplicates", len(got), len(ids))
	}
	if len(ids) != total {
		t.Fatalf("%d alerts stored, want %d", len(ids), total)
	}
}

// TestAlertStreamOutlivesWriteTimeout: a stream stays open past the HTTP
// server's WriteTimeout (serve's is 120 s; here 1 s) and still delivers.
func TestAlertStreamOutlivesWriteTimeout(t *testing.T) {
	e := newEnv(t)
	e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	srv := httptest.NewUnstartedServer(e.server)
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	defer srv.Close()
	defer e.server.Close()
	c, resp := openStream(t, srv, e.tokens[domain.RoleAnalyst], "")
	if c == nil {
		t.Fatalf("stream refused: %d", resp.StatusCode)
	}
	time.Sleep(2500 * time.Millisecond)
	id := e.createIncident(47.665, 30.55, map[string]any{"occurred_at": ago(time.Minute)})
	ev := c.next(t)
	if ev.event != "alert" || !strings.Contains(ev.data, fmt.Sprintf(`"incident_id":%d`, id)) {
		t.Fatalf("event %+v after 2.5 s, want the alert of incident %d", ev, id)
	}
}

// TestAlertStreamSeesOtherProcesses: alerts stored through another store on
// the same file (an import, another server) reach the stream by the hub's
// poll, within about a second.
func TestAlertStreamSeesOtherProcesses(t *testing.T) {
	path := t.TempDir() + "/shared.db"
	e := newEnvAt(t, path, sqlite.Options{})
	other := newEnvAt(t, path, sqlite.Options{})
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	defer e.server.Close()
	other.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	c, _ := openStream(t, srv, e.tokens[domain.RoleAnalyst], "")
	start := time.Now()
	id := other.createIncident(47.665, 30.55, map[string]any{"occurred_at": ago(time.Minute)})
	ev := c.next(t)
	if ev.event != "alert" || !strings.Contains(ev.data, fmt.Sprintf(`"incident_id":%d`, id)) {
		t.Fatalf("event %+v, want the alert of incident %d", ev, id)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the alert took %s to cross processes (the poll is 1 s)", took)
	}
}

// TestAlertStreamCatchesUp: a burst larger than a stream's buffer (here 4
// events) does not end the stream: it reads what it missed from the table
// and goes on, every alert once and in order.
func TestAlertStreamCatchesUp(t *testing.T) {
	e := newEnv(t)
	e.createFacilityR(47.6625, 30.5489, 5000, "Basrah")
	small := e.withServer(t, api.Options{AlertStreamBuffer: 4}, nil, nil)
	srv := httptest.NewServer(small.server)
	defer srv.Close()
	defer small.server.Close()
	c, _ := openStream(t, srv, e.tokens[domain.RoleAnalyst], "")
	var batch []*domain.Incident
	for i := range 60 {
		batch = append(batch, &domain.Incident{Location: [2]float64{47.665, 30.55}, Type: "drone", Title: fmt.Sprintf("drone %d", i),
			OccurredAt: time.Now().Add(-time.Minute), Severity: 2})
	}
	// One transaction: the hub finds all 60 in one pass.
	if _, err := e.store.ImportIncidents(context.Background(), batch, nil); err != nil {
		t.Fatal(err)
	}
	stored := e.alertsAfter("", "")
	if len(stored) != 60 {
		t.Fatalf("%d alerts stored, want 60", len(stored))
	}
	for i, want := range stored {
		ev := c.next(t)
		if ev.event != "alert" || ev.id != want.ID {
			t.Fatalf("event %d: %q %q, want alert %q", i, ev.event, ev.id, want.ID)
		}
	}
}
