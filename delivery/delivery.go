// Package delivery POSTs stored alerts to webhook subscriptions as the
// Standard Webhooks specification says (https://www.standardwebhooks.com):
// a signed JSON body, the same webhook-id on every retry, growing back-off.
// Work comes from the store's outbox (domain.WebhookService), which the
// transaction storing an alert fills, so nothing acknowledged is lost to a
// restart or kill -9: items are leased, and an item whose worker died comes
// back when its lease ends. Each subscription has its own worker, so a
// slow or dead endpoint delays nobody else, and no database transaction is
// ever held open across an HTTP request.
package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// Defaults of Options. The lease covers one batch (its attempts run at
// once, each within the 10 s timeout) and the writes that settle it, with
// room for a busy database; it is also how long the items of a killed
// process wait before another worker takes them. A batch of 32 lets a
// burst drain at 32 requests in flight per subscription, each batch
// claimed in one transaction and settled in another.
const (
	DefaultLease = 20 * time.Second
	DefaultBatch = 32
	DefaultPoll  = time.Second
)

// Options tune a Dispatcher. Encode is required.
type Options struct {
	// Encode renders an alert as the body to POST: the API's alert JSON.
	Encode func(*domain.Alert) ([]byte, error)
	// Allow, when not empty, lists the networks deliveries may connect
	// to; the address actually dialled is checked, so DNS cannot steer a
	// delivery elsewhere.
	Allow []netip.Prefix
	// Signal wakes the dispatcher when this process stores an alert; the
	// Poll interval finds other processes' alerts and due retries.
	Signal *domain.Signal
	Poll   time.Duration
	// Timeout bounds one attempt (default domain.WebhookTimeout).
	Timeout time.Duration
	// Lease is how long a claimed item is this process's; it must exceed
	// the time to deliver one batch.
	Lease time.Duration
	// Batch is how many items of one subscription are sent at once.
	Batch int
	// Retry gives the wait after failed attempt n (domain.WebhookRetryDelay
	// by default); false gives up.
	Retry func(attempt int) (time.Duration, bool)
	Log   *slog.Logger
}

// Dispatcher runs the delivery workers of one process.
type Dispatcher struct {
	svc    domain.WebhookService
	opts   Options
	client *http.Client
	owner  string

	mu      sync.Mutex
	running map[int64]bool
	// again marks a running worker to claim once more before it stops:
	// an item may have become due after its last claim.
	again map[int64]bool
	wg    sync.WaitGroup
}

// New returns a dispatcher over svc's outbox.
func New(svc domain.WebhookService, opts Options) *Dispatcher {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Timeout <= 0 {
		opts.Timeout = domain.WebhookTimeout
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Retry == nil {
		opts.Retry = domain.WebhookRetryDelay
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Signal == nil {
		opts.Signal = domain.NewSignal()
	}
	host, _ := os.Hostname()
	var r [4]byte
	rand.Read(r[:])
	return &Dispatcher{svc: svc, opts: opts, client: newClient(opts), running: map[int64]bool{}, again: map[int64]bool{},
		owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))}
}

// newClient is an HTTP client that follows no redirect (a 3xx is not a
// delivery, and following one would leave the allowed networks) and, with
// an allow-list, refuses to connect anywhere else.
func newClient(opts Options) *http.Client {
	dialer := &net.Dialer{Timeout: opts.Timeout}
	if len(opts.Allow) > 0 {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			a := ap.Addr().Unmap()
			if !slices.ContainsFunc(opts.Allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
				return fmt.Errorf("address %s is outside the networks --webhook-allow permits", a)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil // a proxy would dial for us, past the allow-list
	tr.MaxIdleConnsPerHost = opts.Batch
	return &http.Client{
		Transport:     tr,
		Timeout:       opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers until ctx ends, then waits for the attempts under way to
// stop. What they had not recorded is delivered again once its lease ends
// (at least once, never lost).
func (d *Dispatcher) Run(ctx context.Context) {
	tick := time.NewTicker(d.opts.Poll)
	defer tick.Stop()
	for {
		wake := d.opts.Signal.Wait()
		ids, err := d.svc.DueWebhooks(ctx)
		if err != nil && ctx.Err() == nil {
			d.opts.Log.Error("webhook outbox", "err", err)
		}
		for _, id := range ids {
			d.start(ctx, id)
		}
		select {
		case <-ctx.Done():
			d.wg.Wait()
			return
		case <-wake:
		case <-tick.C:
		}
	}
}

// start runs subscription id's worker, or, when it is running already,
// has it claim once more before it stops. Without that, an alert committed
// between the worker's last claim and its end waited for the next poll, a
// second later.
func (d *Dispatcher) start(ctx context.Context, id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running[id] {
		d.again[id] = true
		return
	}
	d.running[id] = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			d.work(ctx, id)
			d.mu.Lock()
			if !d.again[id] || ctx.Err() != nil {
				delete(d.running, id)
				delete(d.again, id)
				d.mu.Unlock()
				return
			}
			d.again[id] = false
			d.mu.Unlock()
		}
	}()
}

// work delivers subscription id's due items, a batch at a time, until a
// batch comes back short.
func (d *Dispatcher) work(ctx context.Context, id int64) {
	for ctx.Err() == nil {
		items, err := d.svc.ClaimDeliveries(ctx, id, d.owner, d.opts.Lease, d.opts.Batch)
		if err != nil {
			if ctx.Err() == nil {
				d.opts.Log.Error("claim webhook deliveries", "webhook", id, "err", err)
			}
			return
		}
		if len(items) == 0 {
			return
		}
		results := make([]domain.AttemptResult, len(items))
		var wg sync.WaitGroup
		for i := range items {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = d.attempt(ctx, &items[i])
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			// Shutting down: what was delivered is recorded, so a restart
			// does not send it again; the lease hands the rest back.
			results = slices.DeleteFunc(results, func(r domain.AttemptResult) bool { return !r.Delivered })
			if len(results) > 0 {
				if err := d.svc.RecordAttempts(context.WithoutCancel(ctx), d.owner, results); err != nil {
					d.opts.Log.Error("record webhook attempts", "webhook", id, "attempts", len(results), "err", err)
				}
			}
			return
		}
		gone := false
		for i := range results {
			r := &results[i]
			if !r.Delivered && !r.Gone {
				if wait, ok := d.opts.Retry(r.Attempt); ok {
					t := r.At.Add(wait)
					r.Next = &t
				}
			}
			gone = gone || r.Gone
		}
		if err := d.svc.RecordAttempts(context.WithoutCancel(ctx), d.owner, results); err != nil {
			d.opts.Log.Error("record webhook attempts", "webhook", id, "attempts", len(results), "err", err)
			return
		}
		// A short batch took all that was due. What became due since is
		// this process's new alert, which sets again (see start), or
		// another's or a retry, which the poll finds: claiming once more
		// would only cost a write transaction per alert at a steady rate.
		if gone || len(items) < d.opts.Batch {
			return
		}
	}
}

// attempt POSTs one item and says what came of it.
func (d *Dispatcher) attempt(ctx context.Context, it *domain.OutboxItem) domain.AttemptResult {
	now := time.Now()
	r := domain.AttemptResult{ItemID: it.ID, Attempt: it.Attempt, At: now.UTC()}
	body, err := d.opts.Encode(&it.Alert)
	if err != nil {
		r.Error = "encode: " + err.Error()
		return r
	}
	sig, err := Sign(it.Secret, it.MessageID, now.Unix(), body)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, it.Webhook.URL, bytes.NewReader(body))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "postwatch-webhooks")
	req.Header.Set("webhook-id", it.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		r.Error = describe(err)
		return r
	}
	// Reading a little of the body lets the connection be reused; a
	// receiver's answer is not ours to keep.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	status := resp.StatusCode
	r.Status = &status
	switch {
	case status >= 200 && status < 300:
		r.Delivered = true
	case status == http.StatusGone:
		r.Gone, r.Error = true, "410 Gone: the subscription is disabled"
	default:
		r.Error = "HTTP " + strconv.Itoa(status)
	}
	return r
}

// describe turns a transport error into the short reason the deliveries
// log shows.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return err.Error()
}

// Sign is the Standard Webhooks signature of a message: "v1," and the
// base64 of HMAC-SHA256 over "<msgID>.<timestamp>.<body>", keyed with the
// base64-decoded part of secret after "whsec_".
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
