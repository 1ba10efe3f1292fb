package delivery_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/delivery"
	"github.com/postwatch/postwatch/domain"
)

// BenchmarkAlertDelivery writes b.N incidents inside a facility's radius at
// 100 a second (DurabilityNormal, as the tests run) and measures, from the
// moment each write starts (so the write's own commit is included), how long its alert takes to reach an open
// /alerts/stream and a webhook receiver on this machine. It reports the
// p50 and p99 of each in milliseconds, and of the writes themselves. Run it alone, e.g.
// go test -tags=… -run '^$' -bench AlertDelivery -benchtime 1000x ./delivery/
func BenchmarkAlertDelivery(b *testing.B) {
	r := newRig(b)
	srv, err := api.NewWithOptions(api.Services{Incidents: r.st, Facilities: r.st, Actors: r.st, Tokens: r.st,
		Alerts: r.st, Webhooks: r.st, DB: r.st}, slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{AlertSignal: r.signal})
	if err != nil {
		b.Fatal(err)
	}
	httpSrv := httptest.NewServer(srv)
	defer httpSrv.Close()
	defer srv.Close()
	secret, err := r.st.CreateToken(context.Background(), &domain.Token{Name: "bench", Role: domain.RoleAnalyst})
	if err != nil {
		b.Fatal(err)
	}

	var mu sync.Mutex
	written := map[string]time.Time{} // incident title → when its write started
	var sse, hook, writes []time.Duration
	record := func(into *[]time.Duration, data []byte) {
		at := time.Now()
		var a struct {
			Incident struct {
				Properties struct {
					Title string `json:"title"`
				} `json:"properties"`
			} `json:"incident"`
		}
		if json.Unmarshal(data, &a) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if w, ok := written[a.Incident.Properties.Title]; ok {
			*into = append(*into, at.Sub(w))
		}
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		record(&hook, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	r.subscribe(receiver.URL, 0)
	ctx, cancel := context.WithCancel(context.Background())
	d := delivery.New(r.st, delivery.Options{Encode: api.EncodeAlert, Signal: r.signal})
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	req, _ := http.NewRequest("GET", httpSrv.URL+"/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				record(&sse, []byte(data))
			}
		}
	}()

	tick := time.NewTicker(10 * time.Millisecond) // 100 writes a second
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		title := "bench " + strconv.Itoa(i)
		inc := &domain.Incident{Location: [2]float64{47.665, 30.55}, Type: "indirect_fire", Title: title,
			OccurredAt: time.Now().Add(-time.Minute), Severity: 3}
		start := time.Now()
		mu.Lock()
		written[title] = start
		mu.Unlock()
		if err := r.st.CreateIncident(context.Background(), inc); err != nil {
			b.Fatal(err)
		}
		writes = append(writes, time.Since(start))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n, m := len(sse), len(hook)
		mu.Unlock()
		if n >= b.N && m >= b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	if len(sse) < b.N || len(hook) < b.N {
		b.Fatalf("%d stream and %d webhook deliveries of %d alerts", len(sse), len(hook), b.N)
	}
	for name, ds := range map[string][]time.Duration{"sse": sse, "webhook": hook, "write": writes} {
		slices.Sort(ds)
		b.ReportMetric(ms(ds[len(ds)/2]), name+"-p50-ms")
		b.ReportMetric(ms(ds[len(ds)*99/100]), name+"-p99-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
