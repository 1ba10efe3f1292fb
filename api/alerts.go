package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

const alertStreamPath = "/alerts/stream"

// Alert stream timing. alertPoll is how often the hub looks for alerts
// other processes (an import, another replica) stored; this process's own
// writes wake it at once through the store's Signal. A quarter second keeps
// another replica's alert on this one's streams well within a second, for
// one indexed query (seq > last) per replica while a stream is open. alertKeepAlive keeps
// proxies from closing a quiet stream (CONTRACT.md §8: at least every 15 s).
// alertReauth is how often a stream checks that its token still holds, so
// a revoked token's stream ends within seconds. alertRetryMs is the SSE
// retry: field, the client's reconnection delay.
const (
	alertPoll      = 250 * time.Millisecond
	alertKeepAlive = 10 * time.Second
	alertReauth    = time.Second
	alertRetryMs   = 2000
	// alertWriteGrace is the write deadline each stream write sets, so the
	// server's WriteTimeout never cuts a stream and a stuck client does.
	alertWriteGrace = 30 * time.Second
	// alertPage is how many alerts one query reads.
	alertPage = 500
)

// DefaultMaxStreamsPerToken caps the alert streams one token may hold open.
const DefaultMaxStreamsPerToken = 8

// DefaultAlertStreamBuffer is how many events a stream may lag behind the
// hub; a stream further behind catches up from the table instead (see
// alertHub.renew), so a burst never holds the hub or the other streams.
const DefaultAlertStreamBuffer = 1024

// alertOut is an alert as the API writes it (CONTRACT.md §8).
type alertOut struct {
	ID              string    `json:"id"`
	FacilityID      int64     `json:"facility_id"`
	IncidentID      int64     `json:"incident_id"`
	IncidentVersion int       `json:"incident_version"`
	DistanceM       float64   `json:"distance_m"`
	CreatedAt       time.Time `json:"created_at"`
	Incident        feature   `json:"incident"`
}

func newAlertOut(a *domain.Alert) alertOut {
	return alertOut{ID: a.ID, FacilityID: a.FacilityID, IncidentID: a.IncidentID, IncidentVersion: a.IncidentVersion,
		DistanceM: a.DistanceM, CreatedAt: a.CreatedAt, Incident: incidentFeature(&a.Incident, nil)}
}

// EncodeAlert is the JSON of an alert as the API writes it, which webhook
// deliveries POST too.
func EncodeAlert(a *domain.Alert) ([]byte, error) { return json.Marshal(newAlertOut(a)) }

// alertFilter reads facility= and severity_min=.
func alertFilter(c *gin.Context) (domain.AlertFilter, error) {
	var f domain.AlertFilter
	var err error
	if raw, ok := c.GetQuery("facility"); ok {
		if f.Facilities, err = parseIDs("facility", raw); err != nil {
			return f, err
		}
	}
	if raw, ok := c.GetQuery("severity_min"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > domain.MaxSeverity {
			return f, domain.InvalidField("severity_min", "%q is not a severity 1..%d", raw, domain.MaxSeverity)
		}
		f.SeverityMin = n
	}
	return f, nil
}

// MaxAlertLimit bounds one page of GET /alerts.
const MaxAlertLimit = 1000

// alertLimit reads limit= of GET /alerts and of deliveries: default
// domain.DefaultLimit, and any larger positive integer than MaxAlertLimit,
// even one past int64, is clamped to it, as items' limit is.
func alertLimit(c *gin.Context) (int, error) {
	raw, ok := c.GetQuery("limit")
	if !ok {
		return domain.DefaultLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(raw, "-") {
		n, err = MaxAlertLimit, nil
	}
	if err != nil || n < 1 {
		return 0, domain.InvalidField("limit", "%q is not a positive integer", raw)
	}
	return min(n, MaxAlertLimit), nil
}

// listAlerts answers GET /alerts: stored alerts after after=, oldest
// first, with a next link while more remain.
func (s *Server) listAlerts(c *gin.Context) {
	f, err := alertFilter(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if raw, ok := c.GetQuery("after"); ok {
		seq, ok := domain.ParseAlertID(raw)
		if !ok {
			s.writeError(c, domain.InvalidField("after", "%q is not an alert id", raw))
			return
		}
		f.AfterSeq = seq
	}
	if f.Limit, err = alertLimit(c); err != nil {
		s.writeError(c, err)
		return
	}
	page, err := s.alerts.FindAlerts(c.Request.Context(), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]alertOut, len(page.Items))
	for i := range page.Items {
		out[i] = newAlertOut(&page.Items[i])
	}
	self := selfURL(c)
	links := []link{{Href: self, Rel: "self", Type: "application/json", Title: "this page"}}
	if page.More {
		links = append(links, link{Href: withParam(self, "after", page.Items[len(page.Items)-1].ID), Rel: "next",
			Type: "application/json", Title: "next page"})
	}
	c.JSON(http.StatusOK, gin.H{"alerts": out, "links": links})
}

// hubEvent is what the hub hands a stream: an alert or a posture change.
type hubEvent struct {
	alert   *domain.Alert
	posture *domain.PostureChange
}

// alertSub is one open stream's place at the hub.
type alertSub struct {
	ch chan hubEvent
	// lagged is closed when the stream fell alertBuffer events behind.
	lagged chan struct{}
}

// alertHub reads new alerts and posture changes once for every open stream
// on this server: woken by this process's commits (the Signal) and, for
// other processes' writes, every alertPoll. Each pass is one indexed query
// on alerts (seq > last) and one on postures, however many streams are
// open. It runs only while a stream is open.
type alertHub struct {
	svc     domain.AlertService
	signal  *domain.Signal
	closing <-chan struct{}
	onError func(error)

	mu      sync.Mutex
	running bool
	seq     int64 // the last alert handed to the streams
	posture int64 // the last posture change read
	// due holds the changes recorded ahead of time, by effective_at: each
	// goes to the streams when it takes effect, the moment the facility's
	// posture becomes it, not when it was recorded (a map would otherwise
	// redraw and announce a departure days early, and then say nothing).
	due     []domain.PostureChange
	subs    map[*alertSub]struct{}
	streams map[int64]int // open streams per token id
	limit   int
	buffer  int // events a stream may lag behind
}

// subscribe opens a stream for token tok: it returns the subscription and
// the last alert seq the hub has handed out, every later one being sent to
// the subscription. ERATELIMITED when the token holds limit streams.
func (h *alertHub) subscribe(ctx context.Context, tok int64) (*alertSub, int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams[tok] >= h.limit {
		return nil, 0, domain.Errorf(domain.ERATELIMITED, "this token has %d alert streams open, the most it may; close one first", h.limit)
	}
	if !h.running {
		seq, err := h.svc.LastAlertSeq(ctx)
		if err != nil {
			return nil, 0, err
		}
		pid, err := h.svc.LastPostureID(ctx)
		if err != nil {
			return nil, 0, err
		}
		due, err := duePostures(ctx, h.svc, pid, time.Now())
		if err != nil {
			return nil, 0, err
		}
		h.seq, h.posture, h.due, h.running = seq, pid, due, true
		go h.run()
	}
	sub := h.newSub()
	h.subs[sub] = struct{}{}
	h.streams[tok]++
	return sub, h.seq, nil
}

// renew replaces a subscription that fell behind with a fresh one, and
// returns it with the hub's position: the stream reads what lies between
// from the table, as a replay, and goes on from there.
func (h *alertHub) renew(old *alertSub) (*alertSub, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub := h.newSub()
	delete(h.subs, old)
	h.subs[sub] = struct{}{}
	return sub, h.seq
}

func (h *alertHub) newSub() *alertSub {
	return &alertSub{ch: make(chan hubEvent, h.buffer), lagged: make(chan struct{})}
}

func (h *alertHub) unsubscribe(sub *alertSub, tok int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
	if h.streams[tok]--; h.streams[tok] <= 0 {
		delete(h.streams, tok)
	}
}

// run polls until the last stream closes or the server does.
func (h *alertHub) run() {
	tick := time.NewTicker(alertPoll)
	defer tick.Stop()
	for {
		// Taken before reading, so a commit during the read wakes the next pass.
		wake := h.signal.Wait()
		if err := h.pass(); err != nil {
			h.onError(err)
		}
		h.mu.Lock()
		if len(h.subs) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		select {
		case <-wake:
		case <-tick.C:
		case <-h.closing:
			h.mu.Lock()
			h.running = false
			h.mu.Unlock()
			return
		}
	}
}

// pass hands every alert and posture change committed since the last pass
// to the streams. Alert seqs commit in order (see store.AlertSchema), so
// reading seq > last never skips one.
func (h *alertHub) pass() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		h.mu.Lock()
		after := h.seq
		h.mu.Unlock()
		page, err := h.svc.FindAlerts(ctx, domain.AlertFilter{AfterSeq: after, Limit: alertPage})
		if err != nil {
			return err
		}
		h.mu.Lock()
		for i := range page.Items {
			a := &page.Items[i]
			h.broadcast(hubEvent{alert: a})
			h.seq = a.Seq
		}
		h.mu.Unlock()
		if !page.More {
			break
		}
	}
	h.mu.Lock()
	after := h.posture
	h.mu.Unlock()
	changes, err := h.svc.PostureChangesAfter(ctx, after, alertPage)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for i := range changes {
		if c := &changes[i]; c.EffectiveAt.After(now) {
			h.due = insertByEffect(h.due, *c)
		} else {
			h.broadcast(hubEvent{posture: c})
		}
		h.posture = changes[i].ID
	}
	for len(h.due) > 0 && !h.due[0].EffectiveAt.After(now) {
		c := h.due[0]
		h.due = h.due[1:]
		h.broadcast(hubEvent{posture: &c})
	}
	return nil
}

// duePostures reads the posture changes up to id last that take effect
// after now, by effective_at, for a hub that starts: they were recorded
// ahead of time, and their events are still to come. Posture changes are
// few (officers record them by hand), so reading them all once per hub
// start costs little.
func duePostures(ctx context.Context, svc domain.AlertService, last int64, now time.Time) ([]domain.PostureChange, error) {
	var due []domain.PostureChange
	for after := int64(0); after < last; {
		changes, err := svc.PostureChangesAfter(ctx, after, alertPage)
		if err != nil {
			return nil, err
		}
		for _, c := range changes {
			if c.ID <= last && c.EffectiveAt.After(now) {
				due = insertByEffect(due, c)
			}
		}
		if len(changes) < alertPage {
			break
		}
		after = changes[len(changes)-1].ID
	}
	return due, nil
}

// insertByEffect adds c to due, which stays sorted by effective_at, then id.
func insertByEffect(due []domain.PostureChange, c domain.PostureChange) []domain.PostureChange {
	i, _ := slices.BinarySearchFunc(due, c, func(a, b domain.PostureChange) int {
		if n := a.EffectiveAt.Compare(b.EffectiveAt); n != 0 {
			return n
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return slices.Insert(due, i, c)
}

// broadcast hands ev to every stream; one too far behind is cut loose
// rather than allowed to hold the others. Callers hold mu.
func (h *alertHub) broadcast(ev hubEvent) {
	for sub := range h.subs {
		select {
		case sub.ch <- ev:
		default:
			select {
			case <-sub.lagged:
			default:
				close(sub.lagged)
			}
		}
	}
}

// sseWriter writes Server-Sent Events, pushing the write deadline forward
// before each write so the server's WriteTimeout never ends a live stream.
type sseWriter struct {
	c  *gin.Context
	rc *http.ResponseController
}

func (w *sseWriter) write(format string, args ...any) error {
	// Not every ResponseWriter supports deadlines (httptest's does not);
	// where none is set, none needs extending.
	_ = w.rc.SetWriteDeadline(time.Now().Add(alertWriteGrace))
	if _, err := fmt.Fprintf(w.c.Writer, format, args...); err != nil {
		return err
	}
	w.c.Writer.Flush()
	return nil
}

// alertStream answers GET /alerts/stream (CONTRACT.md §8): every alert
// stored after Last-Event-ID (header, or last_event_id=) is replayed in
// order, then live ones follow; the hub's position at subscription
// divides the two, so none is missed or sent twice.
func (s *Server) alertStream(c *gin.Context) {
	f, err := alertFilter(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	lastID := c.GetHeader("Last-Event-ID")
	if q, ok := c.GetQuery("last_event_id"); ok && lastID == "" {
		lastID = q
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if c.Request.Method == http.MethodHead {
		c.Status(http.StatusOK)
		return // a HEAD has no body, so no stream to keep open
	}
	tok := c.MustGet(ctxToken).(*domain.Token)
	ctx := c.Request.Context()
	sub, hubSeq, err := s.hub.subscribe(ctx, tok.ID)
	if err != nil {
		if domain.ErrorCodeOf(err) == domain.ERATELIMITED {
			h.Del("Content-Type")
			s.writeRateLimited(c, alertRetryMs*time.Millisecond, err.Error())
			return
		}
		s.writeError(c, err)
		return
	}
	defer func() { s.hub.unsubscribe(sub, tok.ID) }() // sub may be renewed

	w := &sseWriter{c: c, rc: http.NewResponseController(c.Writer)}
	c.Status(http.StatusOK)
	if err := w.write(": postwatch alerts\nretry: %d\n\n", alertRetryMs); err != nil {
		return
	}
	last := hubSeq // with no Last-Event-ID, the stream starts live
	if lastID != "" {
		seq, ok := domain.ParseAlertID(lastID)
		if ok {
			ok, err = s.alerts.AlertExists(ctx, seq)
			if err != nil {
				s.streamFailed(c, err)
				return
			}
		}
		if ok {
			last = seq
		} else {
			last = 0
			if err := w.write(": last event id %q is unknown or no longer kept; replaying from the oldest kept alert\n\n", oneLine(lastID)); err != nil {
				return
			}
		}
		if last, err = s.replayAlerts(ctx, w, f, last, hubSeq); err != nil {
			s.streamFailed(c, err)
			return
		}
	}
	s.streamLive(ctx, c, w, &sub, f, last, c.GetString(ctxSecret))
}

// errClientGone is a write to a stream that failed: the client left, which
// is nothing to log.
var errClientGone = errors.New("the client is gone")

// replayAlerts sends the alerts matching f stored after from up to and
// including to, and returns the last seq it covered.
func (s *Server) replayAlerts(ctx context.Context, w *sseWriter, f domain.AlertFilter, from, to int64) (int64, error) {
	for from < to {
		f.AfterSeq, f.Limit = from, alertPage
		page, err := s.alerts.FindAlerts(ctx, f)
		if err != nil {
			return from, err
		}
		for i := range page.Items {
			a := &page.Items[i]
			if a.Seq > to {
				return to, nil // the hub sends it
			}
			if err := writeAlertEvent(w, a); err != nil {
				return from, errClientGone
			}
			from = a.Seq
		}
		if !page.More {
			break
		}
	}
	return max(from, to), nil
}

// streamLive sends the hub's events after seq last until the client
// leaves, the server closes or the token stops being valid. When the stream
// falls too far behind the hub (a burst larger than its buffer), it reads
// the alerts it missed from the table and carries on with a fresh
// subscription, which *sub is then.
func (s *Server) streamLive(ctx context.Context, c *gin.Context, w *sseWriter, sub **alertSub, f domain.AlertFilter, last int64, secret string) {
	keepAlive := time.NewTicker(alertKeepAlive)
	defer keepAlive.Stop()
	reauth := time.NewTicker(alertReauth)
	defer reauth.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			w.write("event: close\ndata: the server is shutting down\n\n")
			return
		case <-(*sub).lagged:
			if !s.stillValid(ctx, w, secret) {
				return
			}
			var hubSeq int64
			*sub, hubSeq = s.hub.renew(*sub)
			if last, err = s.replayAlerts(ctx, w, f, last, hubSeq); err != nil {
				s.streamFailed(c, err)
				return
			}
		case <-reauth.C:
			if !s.stillValid(ctx, w, secret) {
				return
			}
		case <-keepAlive.C:
			err = w.write(": keep-alive\n\n")
		case ev := <-(*sub).ch:
			switch {
			case ev.alert != nil && ev.alert.Seq > last:
				last = ev.alert.Seq
				if f.Matches(ev.alert) {
					// The token cache makes this a map lookup; it keeps a
					// revoked token from receiving even one more alert.
					if !s.stillValid(ctx, w, secret) {
						return
					}
					err = writeAlertEvent(w, ev.alert)
				}
			case ev.posture != nil && (len(f.Facilities) == 0 || slices.Contains(f.Facilities, ev.posture.FacilityID)):
				var data []byte
				if data, err = json.Marshal(ev.posture); err == nil {
					err = w.write("event: posture\ndata: %s\n\n", data)
				}
			}
		}
		if err != nil {
			return // the client is gone
		}
	}
}

// stillValid checks the stream's token again; when it was revoked or has
// expired the client is told why and the stream ends.
func (s *Server) stillValid(ctx context.Context, w *sseWriter, secret string) bool {
	if _, err := s.tokens.Authenticate(ctx, secret); err != nil {
		if domain.ErrorCodeOf(err) != domain.EUNAUTHORIZED && ctx.Err() == nil {
			return true // the database hiccuped; the next check decides
		}
		w.write("event: close\ndata: the token is no longer valid\n\n")
		return false
	}
	return true
}

func writeAlertEvent(w *sseWriter, a *domain.Alert) error {
	data, err := EncodeAlert(a)
	if err != nil {
		return err
	}
	return w.write("id: %s\nevent: alert\ndata: %s\n\n", a.ID, data)
}

// streamFailed ends a stream whose headers are sent: the error is logged
// and the client told in an event, since no status can follow.
func (s *Server) streamFailed(c *gin.Context, err error) {
	if c.Request.Context().Err() != nil || errors.Is(err, errClientGone) {
		return
	}
	s.log.Error("alert stream", "err", err, "request_id", requestID(c))
	fmt.Fprint(c.Writer, "event: close\ndata: internal error; reconnect with Last-Event-ID to resume\n\n")
	c.Writer.Flush()
}

// oneLine shortens a client's value for a comment; %q then keeps it from
// breaking the event framing.
func oneLine(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Close ends every alert stream, so that a graceful shutdown need not wait
// for clients that never hang up.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}
