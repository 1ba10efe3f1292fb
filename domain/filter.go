package domain

import (
	"slices"
	"strings"
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

// SortKey orders incidents: one or more comma-separated terms, each a
// SortField with "-" for descending ("-severity,occurred_at"), always in
// the canonical form ParseSortKey returns. Rows that tie on every term are
// ordered by id in the direction of the last term.
type SortKey string

// Sort keys of the fast paths; "-" means descending.
const (
	SortOccurredAtDesc SortKey = "-occurred_at"
	SortOccurredAt     SortKey = "occurred_at"
	SortSeverityDesc   SortKey = "-severity"
	SortSeverity       SortKey = "severity"
)

// SortFields are the properties sortby= may name (CONTRACT.md §10).
var SortFields = []string{"id", "occurred_at", "created_at", "updated_at", "severity", "type", "country", "title"}

// maxSortTerms bounds a sortby= list: every field once.
var maxSortTerms = len(SortFields)

// SortTerm is one term of a SortKey.
type SortTerm struct {
	Field string
	Desc  bool
}

// ParseSortKey reads sortby= as OGC API – Features Part 8 (Sorting) writes
// it: comma-separated fields, each optionally prefixed "+" (ascending, the
// default) or "-" (descending). Returns EINVALID naming sortby for an
// unknown or repeated field.
func ParseSortKey(raw string) (SortKey, error) {
	parts := strings.Split(raw, ",")
	if len(parts) > maxSortTerms {
		return "", InvalidField("sortby", "has more than %d terms", maxSortTerms)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		desc := strings.HasPrefix(p, "-")
		name := strings.TrimLeft(p, "+-")
		if len(p)-len(name) > 1 || !slices.Contains(SortFields, name) {
			return "", InvalidField("sortby", "%q is not a sort term; use one of %s, each with an optional + or -", p, strings.Join(SortFields, ", "))
		}
		if seen[name] {
			return "", InvalidField("sortby", "names %s twice", name)
		}
		seen[name] = true
		if desc {
			name = "-" + name
		}
		out = append(out, name)
	}
	return SortKey(strings.Join(out, ",")), nil
}

// Terms splits the key into its terms.
func (k SortKey) Terms() []SortTerm {
	var out []SortTerm
	for _, p := range strings.Split(string(k), ",") {
		out = append(out, SortTerm{Field: strings.TrimPrefix(p, "-"), Desc: strings.HasPrefix(p, "-")})
	}
	return out
}

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
	// Values are the row's values of every sort term but a final id, for
	// keys other than the single-term fast paths (whose value is Key):
	// integers (times in microseconds) and strings.
	Values []any `json:"v,omitempty"`
}

// IncidentFilter selects incidents; every set field narrows the result.
type IncidentFilter struct {
	BBox     []orb.Bound // more than one when the box crosses the antimeridian
	Near     *Near
	Time     *TimeRange
	Types    []IncidentType
	ActorIDs []string
	// ActorRoles limits ActorIDs to incidents in which the actor has one of
	// these roles; under chain attribution only AttributionRoles count.
	ActorRoles  []ActorRole
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
