package api_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestAlertStream: an incident stored within a facility's alert radius
// reaches a connected client as an "alert" event; one outside does not.
func TestAlertStream(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	defer e.server.Close()
	fac := e.createFacility(47.6625, 30.5489, "U.S. Consulate General Basrah") // alert radius 5 km
	e.createIncident(47.665, 30.55, nil)                                       // before the client connects

	req, _ := http.NewRequest("GET", srv.URL+"/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[domain.RoleAnalyst])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{event, strings.TrimPrefix(line, "data: ")}
			}
		}
		close(events)
	}()

	e.createIncident(47.9, 30.8, nil) // ~35 km away: no alert
	inside := e.createIncident(47.67, 30.552, map[string]any{"title": "Rockets near the consulate"})
	select {
	case ev := <-events:
		var a struct {
			Incident struct {
				ID int64 `json:"id"`
			} `json:"incident"`
			FacilityID int64   `json:"facility_id"`
			DistanceM  float64 `json:"distance_m"`
		}
		if err := json.Unmarshal([]byte(ev[1]), &a); err != nil || ev[0] != "alert" {
			t.Fatalf("event %q %s (%v)", ev[0], ev[1], err)
		}
		if a.Incident.ID != inside || a.FacilityID != fac || a.DistanceM <= 0 || a.DistanceM > 5000 {
			t.Fatalf("alert %+v, want incident %d at facility %d within 5 km", a, inside, fac)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert within 5 s")
	}
	// Close ends the stream with a close event, as serve does on SIGTERM.
	e.server.Close()
	select {
	case ev := <-events:
		if ev[0] != "close" {
			t.Fatalf("after Close: event %q %s, want close", ev[0], ev[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end on Close")
	}
}
