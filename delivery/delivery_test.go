package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/delivery"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// rig is a store with a facility, a dispatcher and its receivers.
type rig struct {
	t      testing.TB
	st     *sqlite.Store
	signal *domain.Signal
	fac    int64
}

func newRig(t testing.TB) *rig {
	t.Helper()
	sig := domain.NewSignal()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "d.db"), sqlite.Options{Durability: sqlite.DurabilityNormal, NoGrid: true, Signal: sig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &domain.Facility{Location: [2]float64{47.6625, 30.5489}, Name: "Consulate General Basrah"}
	if err := st.CreateFacility(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, st: st, signal: sig, fac: f.ID}
}

// run starts a dispatcher with test timings until the test ends.
func (r *rig) run(opts delivery.Options) {
	opts.Encode, opts.Signal = api.EncodeAlert, r.signal
	if opts.Retry == nil {
		opts.Retry = func(n int) (time.Duration, bool) { return 50 * time.Millisecond, n < 5 }
	}
	opts.Poll = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	d := delivery.New(r.st, opts)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

// subscribe adds a webhook and returns it with its secret.
func (r *rig) subscribe(url string, severityMin int) (*domain.Webhook, string) {
	r.t.Helper()
	w := &domain.Webhook{URL: url, SeverityMin: severityMin}
	secret, err := r.st.CreateWebhook(context.Background(), w)
	if err != nil {
		r.t.Fatal(err)
	}
	return w, secret
}

// alert writes an incident inside the facility's radius, raising one alert.
func (r *rig) alert(severity int) *domain.Incident {
	r.t.Helper()
	inc := &domain.Incident{Location: [2]float64{47.665, 30.55}, Type: "indirect_fire", Title: "Rockets near the consulate",
		OccurredAt: time.Now().Add(-time.Minute), Severity: severity}
	if err := r.st.CreateIncident(context.Background(), inc); err != nil {
		r.t.Fatal(err)
	}
	return inc
}

// received is one request a receiver got.
type received struct {
	id, timestamp, signature string
	body                     []byte
}

// receiver is a local HTTP endpoint answering with answer(n) to its n-th
// request (0-based).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	more chan struct{}
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{more: make(chan struct{}, 1000)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body})
		rc.mu.Unlock()
		rc.more <- struct{}{}
		answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// wait blocks until the receiver has had n requests.
func (rc *receiver) wait(t *testing.T, n int, within time.Duration) []received {
	t.Helper()
	deadline := time.After(within)
	for {
		rc.mu.Lock()
		got := append([]received(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.more:
		case <-deadline:
			t.Fatalf("%d requests within %s, want %d", len(got), within, n)
		}
	}
}

func ok(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// verify checks a request as a Standard Webhooks receiver would, written
// from the specification rather than from delivery.Sign: the key is the
// base64 after whsec_, the signed content "id.timestamp.body", and the
// header a space-separated list of "v1,<base64 HMAC-SHA256>".
func verify(t *testing.T, secret string, r received) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		t.Fatal(err)
	}
	ts, err := strconv.ParseInt(r.timestamp, 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		t.Fatalf("webhook-timestamp %q is not the current Unix time", r.timestamp)
	}
	h := hmac.New(sha256.New, key)
	io.WriteString(h, r.id)
	io.WriteString(h, ".")
	io.WriteString(h, r.timestamp)
	io.WriteString(h, ".")
	h.Write(r.body)
	want := h.Sum(nil)
	for _, sig := range strings.Fields(r.signature) {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return
		}
	}
	t.Fatalf("signature %q does not verify for id %q", r.signature, r.id)
}

// TestDeliverySigned: each alert reaches the subscription once, signed,
// with the API's alert JSON as its body; a severity filter holds.
func TestDeliverySigned(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, ok)
	_, secret := r.subscribe(rc.URL+"/hook", 3)
	r.run(delivery.Options{})
	low := r.alert(2) // below severity_min: not sent
	high := r.alert(4)
	got := rc.wait(t, 1, 5*time.Second)
	verify(t, secret, got[0])
	var body struct {
		ID         string `json:"id"`
		FacilityID int64  `json:"facility_id"`
		IncidentID int64  `json:"incident_id"`
		Incident   struct {
			Type string `json:"type"`
			ID   int64  `json:"id"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(got[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if body.IncidentID != high.ID || body.FacilityID != r.fac || body.Incident.Type != "Feature" || body.Incident.ID != high.ID || body.ID == "" {
		t.Fatalf("body %s, want the alert of incident %d (not %d)", got[0].body, high.ID, low.ID)
	}
	// A tampered body fails the same check: the test's verifier is real.
	tampered := got[0]
	tampered.body = append([]byte(nil), tampered.body...)
	tampered.body[len(tampered.body)-2] ^= 1
	if signatureMatches(secret, tampered) {
		t.Fatal("a tampered body verified")
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.wait(t, 1, time.Second)); n != 1 {
		t.Fatalf("%d requests, want 1: the severity-2 alert is filtered and the other sent once", n)
	}
}

func signatureMatches(secret string, r received) bool {
	key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	h := hmac.New(sha256.New, key)
	io.WriteString(h, r.id+"."+r.timestamp+".")
	h.Write(r.body)
	want := "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
	return hmac.Equal([]byte(want), []byte(r.signature))
}

// TestDeliveryRetry: failures (5xx, then a refused connection) are retried
// with the same webhook-id until a 2xx; every attempt is logged.
func TestDeliveryRetry(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	hook, secret := r.subscribe(rc.URL, 0)
	r.run(delivery.Options{})
	r.alert(3)
	got := rc.wait(t, 3, 5*time.Second)
	for _, g := range got {
		if g.id != got[0].id || g.id == "" {
			t.Fatalf("webhook-ids %q and %q: a retry must keep the id", got[0].id, g.id)
		}
		verify(t, secret, g)
	}
	var ds []domain.Delivery
	deadline := time.Now().Add(5 * time.Second)
	for len(ds) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		var err error
		if ds, err = r.st.FindDeliveries(context.Background(), hook.ID, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(ds) != 3 {
		t.Fatalf("%d attempts logged, want 3", len(ds))
	}
	// Newest first: the 200, then the two 503s with their next attempt.
	if *ds[0].Status != 200 || ds[0].Attempt != 3 || ds[0].NextAttemptAt != nil ||
		*ds[1].Status != 503 || ds[1].Attempt != 2 || ds[1].NextAttemptAt == nil || ds[2].Attempt != 1 || ds[2].Error == "" {
		t.Fatalf("attempts %+v", ds)
	}
}

// TestDeliveryRefused: a dead endpoint is retried until it comes up.
func TestDeliveryRefused(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, ok)
	url := rc.URL
	rc.Close() // nothing listens there now
	hook, _ := r.subscribe(url, 0)
	r.run(delivery.Options{Retry: func(n int) (time.Duration, bool) { return 100 * time.Millisecond, n < 1000 }})
	r.alert(3)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds, err := r.st.FindDeliveries(context.Background(), hook.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) >= 2 {
			if ds[0].Status != nil || !strings.Contains(ds[0].Error, "refused") || ds[0].NextAttemptAt == nil {
				t.Fatalf("attempt %+v, want a refused connection to retry", ds[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts logged, want 2 or more", len(ds))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeliveryGone: 410 disables the subscription for good.
func TestDeliveryGone(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	hook, _ := r.subscribe(rc.URL, 0)
	r.run(delivery.Options{})
	r.alert(3)
	rc.wait(t, 1, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		w, err := r.st.FindWebhookByID(context.Background(), hook.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !w.Active {
			if w.DisabledAt == nil {
				t.Fatal("disabled without disabled_at")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription is still active after a 410")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.alert(4)
	r.alert(5)
	time.Sleep(500 * time.Millisecond)
	if n := len(rc.wait(t, 1, time.Second)); n != 1 {
		t.Fatalf("%d requests after the 410, want none beyond the first", n-1)
	}
}

// TestDeliveryHangingEndpoint: an endpoint that never answers holds up
// neither the writes nor another subscription; its attempts time out and
// are retried.
func TestDeliveryHangingEndpoint(t *testing.T) {
	r := newRig(t)
	release := make(chan struct{})
	hanging := newReceiver(t, func(_ int, w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	})
	defer close(release)
	fast := newReceiver(t, ok)
	slowHook, _ := r.subscribe(hanging.URL, 0)
	r.subscribe(fast.URL, 0)
	r.run(delivery.Options{Timeout: time.Second})
	start := time.Now()
	for i := range 20 {
		r.alert(1 + i%5)
	}
	// The hanging endpoint's attempts last a second each; a write or the
	// other endpoint waiting on them would take several.
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("20 writes took %s beside a hanging endpoint", took)
	}
	fast.wait(t, 20, 5*time.Second)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("the fast endpoint got its 20 alerts after %s", elapsed)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds, err := r.st.FindDeliveries(context.Background(), slowHook.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 {
			if ds[0].Status != nil || ds[0].Error != "timed out" || ds[0].NextAttemptAt == nil {
				t.Fatalf("hanging attempt %+v, want a time-out to retry", ds[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempt on the hanging endpoint was logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeliveryLeaseExpires: items a worker claimed and never settled (it
// was killed) are delivered by another once the lease ends.
func TestDeliveryLeaseExpires(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, ok)
	hook, secret := r.subscribe(rc.URL, 0)
	r.alert(3)
	items, err := r.st.ClaimDeliveries(context.Background(), hook.ID, "a worker about to die", 300*time.Millisecond, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("claimed %d (%v), want 1", len(items), err)
	}
	again, err := r.st.ClaimDeliveries(context.Background(), hook.ID, "another", time.Minute, 10)
	if err != nil || len(again) != 0 {
		t.Fatalf("a leased item was claimed twice: %d (%v)", len(again), err)
	}
	start := time.Now()
	r.run(delivery.Options{})
	got := rc.wait(t, 1, 5*time.Second)
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("delivered before the lease ended")
	}
	if got[0].id != items[0].MessageID {
		t.Fatalf("webhook-id %q, want %q as the first claim had it", got[0].id, items[0].MessageID)
	}
	verify(t, secret, got[0])
}

// TestDeliveryAllowList: with an allow-list, the address dialled is
// checked, so a subscription stored before the list (or a name that now
// resolves elsewhere) reaches nothing outside it.
func TestDeliveryAllowList(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, ok)
	hook, _ := r.subscribe(rc.URL, 0) // 127.0.0.1
	r.run(delivery.Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	r.alert(3)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds, err := r.st.FindDeliveries(context.Background(), hook.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 {
			if !strings.Contains(ds[0].Error, "webhook-allow") {
				t.Fatalf("attempt %+v, want refused by the allow-list", ds[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempt logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 0 {
		t.Fatalf("the receiver outside the allow-list got %d requests", len(rc.got))
	}
}
