package domain

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxWebhookURLLen bounds a webhook URL (2 KB), well under what servers
// and proxies accept in a request line.
const MaxWebhookURLLen = 2048

// WebhookTimeout is how long one delivery attempt may take (CONTRACT.md §8).
const WebhookTimeout = 10 * time.Second

// Webhook is a subscription: matching alerts are POSTed to URL, signed
// with the subscription's secret as Standard Webhooks says.
type Webhook struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	Facilities  []int64   `json:"facility"`
	SeverityMin int       `json:"severity_min"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	// DisabledAt is when the endpoint answered 410 Gone, which ends
	// delivery to it for good.
	DisabledAt *time.Time `json:"disabled_at"`
}

// Validate checks a subscription before it is stored: an absolute http or
// https URL with a host, at most MaxWebhookURLLen bytes; facility ids and
// a severity_min in 0..5.
func (w *Webhook) Validate() error {
	var p Problems
	switch u, err := url.Parse(w.URL); {
	case w.URL == "":
		p.Add("url", "is required")
	case len(w.URL) > MaxWebhookURLLen:
		p.Add("url", "is %d bytes long; the limit is %d", len(w.URL), MaxWebhookURLLen)
	case err != nil:
		p.Add("url", "is not a URL: %v", err)
	case !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		p.Add("url", "must be an http or https URL, not %q", u.Scheme)
	case u.Hostname() == "":
		p.Add("url", "has no host")
	case !validPort(u.Port()):
		p.Add("url", "port %q is not a TCP port 1..65535", u.Port())
	}
	if w.SeverityMin < 0 || w.SeverityMin > MaxSeverity {
		p.Add("severity_min", "%d is outside 1..%d (leave it out for every severity)", w.SeverityMin, MaxSeverity)
	}
	validateList(&p, "facility", len(w.Facilities))
	for i, id := range w.Facilities {
		if id <= 0 {
			p.Add("facility["+strconv.Itoa(i)+"]", "%d is not a facility id", id)
		}
	}
	return p.Err()
}

// validPort reports whether a URL's port (empty: the scheme's default)
// can be dialled; url.Parse accepts any digits there.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// Wants reports whether the subscription takes a (its facility and
// severity filters; not whether it is active).
func (w *Webhook) Wants(a *Alert) bool {
	return AlertFilter{Facilities: w.Facilities, SeverityMin: w.SeverityMin}.Matches(a)
}

// Delivery is one webhook attempt, as GET /webhooks/{id}/deliveries lists.
type Delivery struct {
	AlertID       string     `json:"alert_id"`
	Attempt       int        `json:"attempt"`
	Status        *int       `json:"status"` // HTTP status; nil when no answer came
	Error         string     `json:"error"`
	At            time.Time  `json:"at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"` // nil when delivered or given up
}

// webhookRetries are the waits after each failed attempt: the Standard
// Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), 27.6 h in
// all, so a receiver may be down a whole day and still get every alert.
var webhookRetries = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// WebhookRetryDelay is how long to wait after failed attempt number
// attempt (1-based) before the next; false once attempts are exhausted.
func WebhookRetryDelay(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(webhookRetries) {
		return 0, false
	}
	return webhookRetries[attempt-1], true
}

// OutboxItem is an alert owed to one subscription, claimed by one
// delivery worker until LeaseUntil.
type OutboxItem struct {
	ID      int64
	Webhook Webhook
	Secret  string
	Alert   Alert
	// Attempt is the number of this attempt, 1 for the first.
	Attempt int
	// MessageID is the webhook-id header: the same on every attempt.
	MessageID string
}

// AttemptResult is what became of one delivery attempt.
type AttemptResult struct {
	ItemID  int64
	Attempt int
	Status  *int   // HTTP status, nil when none came back
	Error   string // why it failed; empty on 2xx
	At      time.Time
	// Delivered: a 2xx. Gone: a 410, which disables the subscription.
	Delivered, Gone bool
	// Next is when to try again after a failure; nil when delivered, gone
	// or given up.
	Next *time.Time
}

// WebhookService manages subscriptions and their outbox. Every alert is
// queued for every matching active subscription in the transaction that
// stores it, so delivery survives restarts and kill -9.
type WebhookService interface {
	// CreateWebhook stores w and returns its secret (whsec_ + base64 of 32
	// random bytes), which is not kept anywhere else in readable form.
	// EINVALID names the bad field.
	CreateWebhook(ctx context.Context, w *Webhook) (secret string, err error)
	FindWebhooks(ctx context.Context) ([]Webhook, error)
	// FindWebhookByID returns ENOTFOUND for an unknown or deleted id.
	FindWebhookByID(ctx context.Context, id int64) (*Webhook, error)
	// DeleteWebhook ends a subscription and drops what it was still owed.
	DeleteWebhook(ctx context.Context, id int64) error
	// FindDeliveries lists a subscription's latest attempts, newest first.
	FindDeliveries(ctx context.Context, id int64, limit int) ([]Delivery, error)
	// DueWebhooks lists the active subscriptions that have outbox items due
	// now and not leased: one indexed query, whatever their number.
	DueWebhooks(ctx context.Context) ([]int64, error)
	// ClaimDeliveries leases up to limit due outbox items of webhook id to
	// owner until now+lease: an item is due when its next attempt time has
	// come and no unexpired lease holds it, so items a killed worker held
	// come back once their lease ends. Concurrent claimers (other
	// replicas) never get the same item.
	ClaimDeliveries(ctx context.Context, id int64, owner string, lease time.Duration, limit int) ([]OutboxItem, error)
	// RecordAttempts logs the attempts of one claimed batch, in one
	// transaction, and settles each item owner still holds: delivered,
	// retried at its Next, given up (Next nil), or, on Gone, the
	// subscription disabled.
	RecordAttempts(ctx context.Context, owner string, rs []AttemptResult) error
	// PurgeDeliveries drops the attempt log older than before.
	PurgeDeliveries(ctx context.Context, before time.Time) error
}
