package domain

import (
	"time"

	"github.com/paulmach/orb"
)

// Paging limits of the items endpoints.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
	// MaxOffset bounds offset= far beyond any count of records, so that
	// offset+limit cannot overflow; a larger offset means the same empty page.
	MaxOffset     = 1 << 53
	DefaultRadius = 5000
	// MaxRadius keeps a near= query to a region rather than the planet.
	MaxRadius = 1_000_000
)

// TimeRange is a closed interval; a nil end is open.
type TimeRange struct {
	Start *time.Time
	End   *time.Time
}

// Contains reports whether t lies in the range.
func (r TimeRange) Contains(t time.Time) bool {
	return (r.Start == nil || !t.Before(*r.Start)) && (r.End == nil || !t.After(*r.End))
}

// Near selects features within RadiusM meters (geodesic) of Center.
type Near struct {
	Center  orb.Point
	RadiusM float64
}

// SortKey orders incidents.
type SortKey string

// Sort keys accepted by sortby; "-" means descending.
const (
	SortOccurredAtDesc SortKey = "-occurred_at"
	SortOccurredAt     SortKey = "occurred_at"
	SortSeverityDesc   SortKey = "-severity"
	SortSeverity       SortKey = "severity"
)

// SortKeys lists every valid SortKey.
var SortKeys = []SortKey{SortOccurredAtDesc, SortOccurredAt, SortSeverityDesc, SortSeverity}

// Attribution says whether actor= matches only incidents naming the actor,
// or also those of actors it controls, directs, facilitates, sponsors or leads.
type Attribution string

// Attribution modes.
const (
	AttributionDirect Attribution = "direct"
	AttributionChain  Attribution = "chain"
)

// Attributions lists every valid Attribution.
var Attributions = []Attribution{AttributionDirect, AttributionChain}

// Page selects a slice of an ordered result: either Offset rows in, or
// after the row a Cursor points at (keyset paging).
type Page struct {
	Limit  int
	Offset int
	Cursor *Cursor
}

// Cursor is the position of the last row of a page in the sort order it
// was made for.
type Cursor struct {
	Sort SortKey `json:"s,omitempty"`
	Key  int64   `json:"k"`
	ID   int64   `json:"i"`
}

// IncidentFilter selects incidents; every set field narrows the result.
type IncidentFilter struct {
	BBox        []orb.Bound // more than one when the box crosses the antimeridian
	Near        *Near
	Time        *TimeRange
	Types       []IncidentType
	ActorIDs    []string
	Attribution Attribution
	FacilityIDs []int64
	SeverityMin *int
	Statuses    []IncidentStatus
	Countries   []string
	Text        string
	Where       Expr // a CQL2 filter over IncidentQueryables
	SortBy      SortKey
	Page        Page
}

// FacilityFilter selects facilities.
type FacilityFilter struct {
	BBox      []orb.Bound
	Near      *Near
	Kinds     []FacilityKind
	Postures  []Posture
	Countries []string
	Text      string
	Where     Expr // a CQL2 filter over FacilityQueryables
	Page      Page
}

// ActorFilter selects actors.
type ActorFilter struct {
	Text string // matches names and aliases
	Kind []ActorKind
	Page Page
}
