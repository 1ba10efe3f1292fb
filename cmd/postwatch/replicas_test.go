package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/postwatch/postwatch/store/storetest"
)

// replicaCount is how many serve processes TestPostGISReplicas starts at
// once on one empty database: the twenty of CONTRACT.md §7.
const replicaCount = 20

// TestPostGISReplicas runs several serve processes of the built binary on
// one PostGIS database, as CONTRACT.md §7 describes them behind a load
// balancer: started together on an empty database they migrate it once
// and all serve; then, with two of them, A and B, a write acknowledged by
// A is seen by B's reads (the item, lists, bbox, q=, counts, stats and
// tiles); an alert stored through A is streamed by B within a second;
// each webhook delivery is made once with both dispatching; If-Match
// races across them have exactly one winner; a token revoked on A stops
// working on B within 5 s; and kill -9 of A loses nothing it acknowledged.
func TestPostGISReplicas(t *testing.T) {
	admin := os.Getenv(storetest.EnvPG)
	if admin == "" {
		t.Skip("needs " + storetest.EnvPG + "; the PostGIS pass of make test runs it")
	}
	db := storetest.EmptyDatabase(t, admin)

	// Started at once on an empty database, each with a pool of 3 (twenty
	// replicas of the default 8 would pass PostgreSQL's default
	// max_connections of 100).
	replicas := make([]*server, replicaCount)
	errs := make([]error, replicaCount)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas[i], errs[i] = tryStartServer(t, db, "--db-max-conns", "3")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d of %d started together: %v", i, replicaCount, err)
		}
	}
	checkMigratedOnce(t, db)
	for _, r := range replicas[2:] {
		if state := r.stop(10 * time.Second); !state.Success() {
			t.Errorf("replica exited with %v", state)
		}
	}
	a, b := replicas[0], replicas[1]
	token := newToken(t, db, "admin")
	ca, cb := newClient(t, a.base, token), newClient(t, b.base, token)

	// A facility made on A; the incident near it will alert.
	lon, lat := 47.6625, 30.5489
	fac := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,%g]},"properties":{"name":"Consulate General Basrah"}}`, lon, lat)
	var facility incidentReply
	if status, body, err := ca.request("POST", "/collections/facilities/items", []byte(fac)); err != nil || status != http.StatusCreated || json.Unmarshal(body, &facility) != nil {
		t.Fatalf("facility on A: %d %s %v", status, body, err)
	}
	tile := maptile.At(orb.Point{lon, lat}, 12)
	tilePath := fmt.Sprintf("/tiles/%d/%d/%d.mvt", tile.Z, tile.X, tile.Y)
	if layers := tileLayers(t, cb, tilePath); layers["facilities"] != 1 || layers["incidents"] != 0 {
		t.Fatalf("B's tile after A made the facility: layers %v, want the facility alone", layers)
	}
	alerts := streamAlerts(t, b.base, token)

	incident := func(title string) []byte {
		return []byte(fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,%g]},"properties":{"type":"drone","title":%q,"occurred_at":%q,"severity":4}}`,
			lon+0.001, lat, title, time.Now().UTC().Format(time.RFC3339)))
	}
	status, body, err := ca.request("POST", "/collections/incidents/items", incident("Drone over the compound"))
	written := time.Now()
	var inc incidentReply
	if err != nil || status != http.StatusCreated || json.Unmarshal(body, &inc) != nil {
		t.Fatalf("incident on A: %d %s %v", status, body, err)
	}

	t.Run("B reads what A acknowledged", func(t *testing.T) {
		for _, path := range []string{fmt.Sprintf("/collections/incidents/items/%d", inc.ID), fmt.Sprintf("/collections/facilities/items/%d", facility.ID)} {
			if status, body, _ := cb.request("GET", path, nil); status != http.StatusOK {
				t.Errorf("GET %s on B: %d %s", path, status, body)
			}
		}
		for _, q := range []string{"", "&bbox=47,30,48,31", "&q=compound", "&type=drone"} {
			if n := cb.numberMatched(q); n != 1 {
				t.Errorf("B's list %q holds %d incidents, want 1", q, n)
			}
		}
		var stats struct {
			Buckets []struct {
				Key   string
				Count int
			}
		}
		cb.getJSON("/stats/incidents?group_by=type", &stats)
		if len(stats.Buckets) != 1 || stats.Buckets[0].Key != "drone" || stats.Buckets[0].Count != 1 {
			t.Errorf("B's stats: %+v, want one drone", stats.Buckets)
		}
		if layers := tileLayers(t, cb, tilePath); layers["incidents"] != 1 {
			t.Errorf("B's tile after the write: layers %v, want the incident", layers)
		}
	})

	t.Run("B streams A's alert within 1 s", func(t *testing.T) {
		select {
		case ev := <-alerts:
			if !strings.Contains(ev.data, fmt.Sprintf(`"incident_id":%d`, inc.ID)) {
				t.Errorf("B streamed %s, want the alert of incident %d", ev.data, inc.ID)
			}
			if lag := ev.at.Sub(written); lag > time.Second {
				t.Errorf("B streamed A's alert %v after the write, more than 1 s", lag)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("B streamed no alert within 5 s of A's write")
		}
	})

	t.Run("each webhook delivery made once", func(t *testing.T) {
		var mu sync.Mutex
		ids := map[string]int{}
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			ids[r.Header.Get("webhook-id")]++
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}))
		defer receiver.Close()
		hook := []byte(`{"url":"` + receiver.URL + `/hook"}`)
		if status, body, err := sendRequest(ca.http, "POST", a.base+"/webhooks", token, "application/json", hook); err != nil || status != http.StatusCreated {
			t.Fatalf("webhook on A: %d %s %v", status, body, err)
		}
		const n = 10
		for i := range n {
			c := []*apiClient{ca, cb}[i%2]
			if status, body, err := c.request("POST", "/collections/incidents/items", incident(fmt.Sprintf("Drone %d", i))); err != nil || status != http.StatusCreated {
				t.Fatalf("incident %d: %d %s %v", i, status, body, err)
			}
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			mu.Lock()
			got := len(ids)
			mu.Unlock()
			if got == n || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Both dispatchers poll every second: two more seconds give a
		// second delivery of any alert every chance to show.
		time.Sleep(2 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		if len(ids) != n {
			t.Errorf("%d webhook-ids delivered for %d alerts", len(ids), n)
		}
		for id, k := range ids {
			if k != 1 {
				t.Errorf("webhook-id %s delivered %d times", id, k)
			}
		}
	})

	t.Run("If-Match races have one winner", func(t *testing.T) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/collections/incidents/items/%d", a.base, inc.ID), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := ca.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		const racers = 12
		statuses := make(chan int, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := []string{a.base, b.base}[i%2]
				req, _ := http.NewRequest("PATCH", fmt.Sprintf("%s/collections/incidents/items/%d", base, inc.ID),
					strings.NewReader(fmt.Sprintf(`{"properties":{"title":"racer %d"}}`, i)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/merge-patch+json")
				req.Header.Set("If-Match", etag)
				resp, err := ca.http.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusOK] != 1 || count[http.StatusPreconditionFailed] != racers-1 {
			t.Errorf("If-Match race across A and B: statuses %v, want one 200 and %d 412", count, racers-1)
		}
	})

	t.Run("revocation on A reaches B within 5 s", func(t *testing.T) {
		var tok struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
		}
		status, body, err := sendRequest(ca.http, "POST", a.base+"/tokens", token, "application/json", []byte(`{"name":"soon revoked","role":"analyst"}`))
		if err != nil || status != http.StatusCreated || json.Unmarshal(body, &tok) != nil {
			t.Fatalf("POST /tokens on A: %d %s %v", status, body, err)
		}
		doomed := newClient(t, b.base, tok.Token)
		if status, _, _ := doomed.request("GET", "/collections", nil); status != http.StatusOK {
			t.Fatalf("the new token on B: %d", status)
		}
		revoked := time.Now()
		if status, body, _ := ca.request("DELETE", fmt.Sprintf("/tokens/%d", tok.ID), nil); status != http.StatusNoContent {
			t.Fatalf("revoke on A: %d %s", status, body)
		}
		for {
			status, _, _ := doomed.request("GET", "/collections", nil)
			if status == http.StatusUnauthorized {
				t.Logf("B refused the revoked token %v after the revocation began", time.Since(revoked).Round(time.Millisecond))
				break
			}
			if time.Since(revoked) > 5*time.Second {
				t.Fatalf("B still answers %d to a token revoked on A %v ago", status, time.Since(revoked).Round(time.Millisecond))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("kill -9 of A loses nothing it acknowledged", func(t *testing.T) {
		acks, st, stop := newAcked(), &writerStats{}, make(chan struct{})
		wait := runWriters(ca, 4, "replica", acks, st, stop)
		time.Sleep(1500 * time.Millisecond)
		a.kill()
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wait()
		want := acks.snapshot()
		for _, bad := range st.bad {
			t.Errorf("before the kill: %s", bad)
		}
		if len(want) < 10 {
			t.Fatalf("only %d writes acknowledged by A before the kill; the test proves little", len(want))
		}
		have := cb.titles("&q=replica")
		for id, title := range want {
			if have[id] != title {
				t.Errorf("incident %d (%q), acknowledged by A before kill -9, is %q on B", id, title, have[id])
			}
		}
		t.Logf("%d acknowledged by A, %d stored", len(want), len(have))
	})
}

// tileLayers fetches a vector tile and counts the features of each layer.
func tileLayers(t *testing.T, c *apiClient, path string) map[string]int {
	t.Helper()
	status, body, err := c.request("GET", path, nil)
	if err != nil || status != http.StatusOK && status != http.StatusNoContent {
		t.Fatalf("GET %s: %d %v %q", path, status, err, body)
	}
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	out := map[string]int{}
	for _, l := range layers {
		out[l.Name] = len(l.Features)
	}
	return out
}

// checkMigratedOnce fails unless the database records each migration once.
func checkMigratedOnce(t *testing.T, dsn string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT name) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n == 0 || n != distinct {
		t.Errorf("schema_migrations holds %d rows for %d migrations", n, distinct)
	}
}

type sseEvent struct {
	data string
	at   time.Time
}

// streamAlerts opens base's /alerts/stream and sends each alert event,
// stamped with the time it arrived, until the test ends.
func streamAlerts(t *testing.T, base, token string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open the alert stream: %v %v", err, resp)
	}
	t.Cleanup(func() { resp.Body.Close() })
	out := make(chan sseEvent, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "alert":
				out <- sseEvent{data: strings.TrimPrefix(line, "data: "), at: time.Now()}
			case line == "":
				event = ""
			}
		}
	}()
	return out
}
