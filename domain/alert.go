package domain

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/postwatch/postwatch/geo"
)

// DefaultAlertWindow is how far before a write an incident's occurred_at
// may lie for the write to raise alerts (serve --alert-window), so that a
// bulk import of past events raises none (CONTRACT.md §8).
const DefaultAlertWindow = 72 * time.Hour

// AlertClockSkew is how far after the write an incident's occurred_at may
// lie and still alert: officers' devices run a little fast, and an incident
// timed a few minutes "in the future" is still happening now.
const AlertClockSkew = 15 * time.Minute

// AlertRetention is how long alerts (and the webhook deliveries made of
// them) are kept; CONTRACT.md §8 promises at least 30 days.
const AlertRetention = 35 * 24 * time.Hour

// Alert is an incident write that concerns a facility: the incident came
// within the facility's alert_radius_m, or its severity rose while inside.
// One alert exists per facility and incident version.
type Alert struct {
	// Seq is the alert's place in the store's commit order; ID is its
	// public, opaque form (see AlertID).
	Seq             int64     `json:"-"`
	ID              string    `json:"id"`
	FacilityID      int64     `json:"facility_id"`
	IncidentID      int64     `json:"incident_id"`
	IncidentVersion int       `json:"incident_version"`
	DistanceM       float64   `json:"distance_m"`
	CreatedAt       time.Time `json:"created_at"`
	// Incident is the incident as of IncidentVersion.
	Incident Incident `json:"incident"`
}

// AlertID is the public id of the alert stored at seq: 16 hexadecimal
// digits, so that ids sort as strings in the order alerts were stored.
func AlertID(seq int64) string { return fmt.Sprintf("%016x", seq) }

// ParseAlertID returns the sequence number an id stands for; false when s
// is not an id AlertID makes.
func ParseAlertID(s string) (int64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 16, 63)
	if err != nil || n == 0 {
		return 0, false
	}
	return int64(n), true
}

// AlertHit is one facility an incident write alerts, at its distance.
type AlertHit struct {
	FacilityID int64
	DistanceM  float64
}

// AlertsFor is the alert rule of CONTRACT.md §8: which facilities the
// write of next (a new version of an incident whose previous version is
// prev, nil on create) alerts, given the live facilities, the write time
// and the alert window. A facility is alerted when next lies within its
// alert_radius_m and either prev did not (prev is nil, or was elsewhere) or
// next's severity is higher than prev's. Nothing alerts when next's
// occurred_at lies more than window before now (or more than
// AlertClockSkew after it), or when next is retracted: a retraction is
// news for the record, not an alarm. Distances are geodesic (geo.Distance),
// rounded to 0.1 m.
func AlertsFor(prev, next *Incident, facilities []Facility, now time.Time, window time.Duration) []AlertHit {
	if !InAlertWindow(next, now, window) {
		return nil
	}
	var hits []AlertHit
	for _, f := range facilities {
		d := geo.Distance(f.Location, next.Location)
		if d > f.AlertRadiusM {
			continue
		}
		if prev != nil && geo.Distance(f.Location, prev.Location) <= f.AlertRadiusM && next.Severity <= prev.Severity {
			continue
		}
		hits = append(hits, AlertHit{FacilityID: f.ID, DistanceM: float64(int64(d*10+0.5)) / 10})
	}
	return hits
}

// InAlertWindow reports whether a write of inc at now may alert at all: it
// is live news (not retracted) and occurred within window before now (up to
// AlertClockSkew after). Stores test it before reading any facility.
func InAlertWindow(inc *Incident, now time.Time, window time.Duration) bool {
	if inc == nil || inc.Status == "retracted" {
		return false
	}
	return !inc.OccurredAt.Before(now.Add(-window)) && !inc.OccurredAt.After(now.Add(AlertClockSkew))
}

// AlertFilter selects stored alerts, oldest first.
type AlertFilter struct {
	// AfterSeq keeps alerts stored after this one (0: from the oldest kept).
	AfterSeq    int64
	Facilities  []int64 // any of these facilities; empty: all
	SeverityMin int     // the incident's severity at least this; 0: any
	Limit       int
}

// Matches reports whether a passes the filter's facility and severity
// conditions (not AfterSeq or Limit), for alerts filtered in memory.
func (f AlertFilter) Matches(a *Alert) bool {
	if f.SeverityMin > 0 && a.Incident.Severity < f.SeverityMin {
		return false
	}
	if len(f.Facilities) == 0 {
		return true
	}
	for _, id := range f.Facilities {
		if id == a.FacilityID {
			return true
		}
	}
	return false
}

// AlertPage is one page of alerts; More is set while further alerts match.
type AlertPage struct {
	Items []Alert
	More  bool
}

// AlertService reads stored alerts. Alerts are written by the incident
// writes that cause them, in the same transaction.
type AlertService interface {
	// FindAlerts returns up to f.Limit alerts after f.AfterSeq, oldest first.
	FindAlerts(ctx context.Context, f AlertFilter) (*AlertPage, error)
	// AlertExists reports whether the alert stored at seq is still kept, so
	// a stream can tell a resumable Last-Event-ID from a purged or foreign one.
	AlertExists(ctx context.Context, seq int64) (bool, error)
	// LastAlertSeq is the highest alert sequence number committed, 0 if none.
	LastAlertSeq(ctx context.Context) (int64, error)
	// PostureChangesAfter returns up to limit posture changes with ids
	// above id, in id order, for the stream's posture events.
	PostureChangesAfter(ctx context.Context, id int64, limit int) ([]PostureChange, error)
	// LastPostureID is the highest posture change id stored, 0 if none.
	LastPostureID(ctx context.Context) (int64, error)
	// PurgeAlerts drops alerts stored before before that no subscription
	// is still owed.
	PurgeAlerts(ctx context.Context, before time.Time) error
}

// Signal is a broadcast wake-up: Notify wakes everyone waiting on the
// channel Wait returned before it. A store notifies after committing an
// alert; the alert stream and the webhook dispatcher wait on it instead of
// polling for this process's own writes. A Signal carries no data: waiters
// read what changed from the database, the source of truth.
type Signal struct {
	mu sync.Mutex
	c  chan struct{}
}

// NewSignal returns a Signal no one has been woken by yet.
func NewSignal() *Signal { return &Signal{c: make(chan struct{})} }

// Wait returns a channel closed by the next Notify.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// Notify wakes every current waiter. A nil Signal ignores it.
func (s *Signal) Notify() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.c)
	s.c = make(chan struct{})
}
