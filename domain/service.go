package domain

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// IncidentHit is an incident in a result, with its distance from the
// filter's near= point when one was given. The incident may be shared with
// other results (the store caches them): callers must not modify it.
type IncidentHit struct {
	*Incident
	DistanceM *float64
}

// IncidentPage is one page of incidents.
type IncidentPage struct {
	Items   []IncidentHit
	Matched int     // total matching the filter, ignoring paging; -1 when too many to count
	Next    *Cursor // set while more rows remain
}

// FacilityHit is a facility in a result, with its distance when asked.
type FacilityHit struct {
	Facility
	DistanceM *float64
}

// FacilityPage is one page of facilities.
type FacilityPage struct {
	Items   []FacilityHit
	Matched int
	Next    *Cursor
}

// Version is one stored state of a record in its history.
type Version[T any] struct {
	Version   int       `json:"version"`
	Op        string    `json:"op"` // create, update, delete; revoke for tokens
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by"`
	Record    T         `json:"record"`
}

// Extent is the spatial and temporal span of a collection; nil when empty.
type Extent struct {
	BBox  *[4]float64
	Start *time.Time
	End   *time.Time
}

// IncidentService stores and finds incidents. Writes record who made them
// from the context's Principal and append to the incident's history in the
// same transaction.
type IncidentService interface {
	// FindIncidents returns a page of incidents matching f.
	FindIncidents(ctx context.Context, f IncidentFilter) (*IncidentPage, error)
	// FindIncidentByID returns ENOTFOUND if no live incident has id.
	FindIncidentByID(ctx context.Context, id int64) (*Incident, error)
	// CreateIncident validates and stores inc, setting its id, timestamps and
	// version, with the alerts it raises (AlertsFor) in the same
	// transaction; PossibleDuplicates lists live incidents of its type
	// within DuplicateRadiusM and DuplicateWindow (never a reason to
	// refuse). Returns EINVALID for bad fields or unknown facility/actors,
	// and ECONFLICT if its external_id is taken.
	CreateIncident(ctx context.Context, inc *Incident) error
	// ReplaceIncident overwrites incident id with inc, with the alerts the
	// change raises. If ifVersion is not zero and differs from the stored
	// version it returns EPRECONDITION.
	ReplaceIncident(ctx context.Context, id int64, inc *Incident, ifVersion int) error
	// DeleteIncident removes id from listings, keeping its history.
	DeleteIncident(ctx context.Context, id int64, ifVersion int) error
	// IncidentHistory returns every version of id, oldest first, also after
	// deletion; ENOTFOUND if id never existed.
	IncidentHistory(ctx context.Context, id int64) ([]Version[Incident], error)
	// IncidentExtent returns the span of live incidents.
	IncidentExtent(ctx context.Context) (*Extent, error)
	// CountIncidents counts the incidents matching f (its paging and sort
	// ignored) in buckets of q.By, with the sums of q.Sum: time buckets in
	// time order, others by count. Only buckets holding incidents are
	// returned; FillTimeGaps adds the empty ones. Returns EINVALID naming
	// group_by or sum for a grouping or sum it does not know.
	CountIncidents(ctx context.Context, f IncidentFilter, q StatsQuery) ([]Bucket, error)
	// ClusterIncidents groups the incidents matching f (its paging and sort
	// ignored) by the web-mercator tile of zoom z that holds each one, and
	// returns one cluster per tile that holds any, in no particular order.
	// A point is in the tile of maptile.Fraction's coordinates, floored and
	// clamped to the world, so incidents beyond ±85.0511° of latitude join
	// the top or bottom row and every match is in exactly one cluster: the
	// counts add up to the matches. On PostGIS this is one query:
	// GROUP BY the snapped mercator cell (floor(x·2^z), floor(y·2^z)) with
	// count(*), sum(lon), sum(lat) and max(severity). Returns EINVALID if z
	// is outside 0..MaxClusterZoom.
	ClusterIncidents(ctx context.Context, f IncidentFilter, z int) ([]IncidentCluster, error)
}

// MaxClusterZoom is the deepest zoom ClusterIncidents groups by: tiles of
// zoom 22 split in 64 × 64 cells.
const MaxClusterZoom = 28

// IncidentCluster is the incidents of one web-mercator tile (X, Y at the
// zoom asked for): how many, the mean of their coordinates (degrees, WGS84)
// and their highest severity.
type IncidentCluster struct {
	X, Y        uint32
	Count       int
	Center      orb.Point
	MaxSeverity int
}

// GroupBy is how incident statistics are bucketed.
type GroupBy string

// GroupBys lists every valid GroupBy.
var GroupBys = []GroupBy{"day", "week", "month", "type", "actor", "facility", "country"}

// IsTime reports whether the grouping buckets time.
func (g GroupBy) IsTime() bool { return g == "day" || g == "week" || g == "month" }

// SumFields are the incident fields a statistic may add up.
var SumFields = []string{"killed", "injured"}

// StatsQuery is what a statistic groups by (one or two keys, at most one of
// them a time) and which fields it adds up.
type StatsQuery struct {
	By  []GroupBy
	Sum []string
}

// Bucket is one group of a statistic: days are 2018-09-07, weeks the date
// of their Monday, months 2018-09. Keys holds the value of every grouping
// in order; Key is that value for one grouping and the values joined by
// "/" for two (no key value holds a "/"). Sum holds the totals asked for.
type Bucket struct {
	Key   string           `json:"key"`
	Keys  []string         `json:"keys"`
	Count int              `json:"count"`
	Sum   map[string]int64 `json:"sum,omitempty"`
}

// BucketKey is the Key of a bucket of keys.
func BucketKey(keys []string) string { return strings.Join(keys, "/") }

// MaxBuckets bounds the buckets of one statistic once its gaps are filled.
const MaxBuckets = 100_000

// FillTimeGaps returns buckets with a zero bucket added for every time
// bucket missing between the first and the last one, so a chart's time axis
// has no holes; with a second grouping, every value of it gets the whole
// time axis. Buckets must be as CountIncidents returns them; the result is
// in time order, then in the order the other values first appear. Returns
// EINVALID naming group_by when that would make more than MaxBuckets.
func FillTimeGaps(buckets []Bucket, q StatsQuery) ([]Bucket, error) {
	t := slices.IndexFunc(q.By, GroupBy.IsTime)
	if t < 0 || len(buckets) == 0 {
		return buckets, nil
	}
	step, parse, format := timeStep(q.By[t])
	first, last := buckets[0].Keys[t], buckets[0].Keys[t]
	var others []string
	seen := map[string]bool{}
	have := map[string]Bucket{}
	for _, b := range buckets {
		first, last = min(first, b.Keys[t]), max(last, b.Keys[t])
		other := ""
		if len(b.Keys) == 2 {
			other = b.Keys[1-t]
		}
		if !seen[other] {
			seen[other] = true
			others = append(others, other)
		}
		have[BucketKey(b.Keys)] = b
	}
	start, err1 := time.Parse(parse, first)
	end, err2 := time.Parse(parse, last)
	if err1 != nil || err2 != nil {
		return buckets, nil // keys not written by CountIncidents: nothing to fill
	}
	periods := 0
	for at := start; !at.After(end) && periods*len(others) <= MaxBuckets; at = step(at) {
		periods++
	}
	if n := periods * len(others); n > MaxBuckets {
		return nil, InvalidField("group_by", "would make more than %d buckets; narrow datetime or group by a longer period", MaxBuckets)
	}
	out := make([]Bucket, 0, periods*len(others))
	for at := start; !at.After(end); at = step(at) {
		for _, other := range others {
			keys := []string{at.Format(format)}
			if len(q.By) == 2 {
				keys = append(keys, other)
				if t == 1 {
					keys[0], keys[1] = keys[1], keys[0]
				}
			}
			b, ok := have[BucketKey(keys)]
			if !ok {
				b = Bucket{Key: BucketKey(keys), Keys: keys}
				if len(q.Sum) > 0 {
					b.Sum = map[string]int64{}
					for _, f := range q.Sum {
						b.Sum[f] = 0
					}
				}
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// timeStep is how a time grouping advances, reads and writes its keys.
func timeStep(g GroupBy) (func(time.Time) time.Time, string, string) {
	switch g {
	case "month":
		return func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }, "2006-01", "2006-01"
	case "week":
		return func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }, time.DateOnly, time.DateOnly
	}
	return func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }, time.DateOnly, time.DateOnly
}

// FacilityService stores and finds facilities and their posture changes.
type FacilityService interface {
	FindFacilities(ctx context.Context, f FacilityFilter) (*FacilityPage, error)
	// FindFacilityByID returns ENOTFOUND if no live facility has id.
	FindFacilityByID(ctx context.Context, id int64) (*Facility, error)
	CreateFacility(ctx context.Context, f *Facility) error
	// ReplaceFacility returns EPRECONDITION on a version mismatch.
	ReplaceFacility(ctx context.Context, id int64, f *Facility, ifVersion int) error
	DeleteFacility(ctx context.Context, id int64, ifVersion int) error
	FacilityHistory(ctx context.Context, id int64) ([]Version[Facility], error)
	FacilityExtent(ctx context.Context) (*Extent, error)
	// RecordPosture stores a posture change and, when it is the latest
	// effective one, sets the facility's posture (a new facility version).
	RecordPosture(ctx context.Context, c *PostureChange) error
	// FindPostures lists a facility's posture changes by effective time.
	FindPostures(ctx context.Context, facilityID int64) ([]PostureChange, error)
}

// ActorService stores actors and their relation graph.
type ActorService interface {
	FindActors(ctx context.Context, f ActorFilter) ([]Actor, int, error)
	// FindActorByID returns ENOTFOUND if no live actor has id.
	FindActorByID(ctx context.Context, id string) (*Actor, error)
	// CreateActor returns ECONFLICT if the id is taken.
	CreateActor(ctx context.Context, a *Actor) error
	ReplaceActor(ctx context.Context, id string, a *Actor, ifVersion int) error
	DeleteActor(ctx context.Context, id string, ifVersion int) error
	ActorHistory(ctx context.Context, id string) ([]Version[Actor], error)
	// FindRelations lists the relations whose subject is actorID.
	FindRelations(ctx context.Context, actorID string) ([]Relation, error)
	// CreateRelation returns EINVALID if the target actor does not exist.
	CreateRelation(ctx context.Context, r *Relation) error
	DeleteRelation(ctx context.Context, actorID string, relationID int64) error
	// RelationHistory returns the creation and deletion of every relation
	// whose subject is actorID, in the order they happened, each with who
	// made it; ENOTFOUND if the actor never existed.
	RelationHistory(ctx context.Context, actorID string) ([]Version[Relation], error)
	// DeleteRelations removes actorID's relations of kind to targetID;
	// ENOTFOUND if it has none.
	DeleteRelations(ctx context.Context, actorID string, kind RelationKind, targetID string) error
}

// TokenService issues and checks API tokens. Only hashes are stored.
type TokenService interface {
	// CreateToken stores a new token and returns its secret, shown once.
	CreateToken(ctx context.Context, t *Token) (secret string, err error)
	// Authenticate returns EUNAUTHORIZED for an unknown, revoked or expired secret.
	Authenticate(ctx context.Context, secret string) (*Token, error)
	FindTokens(ctx context.Context) ([]Token, error)
	RevokeToken(ctx context.Context, id int64) error
	// TokenHistory returns the versions of a token's public record (op
	// create, then revoke), each with who made the change; ENOTFOUND if it
	// never existed.
	TokenHistory(ctx context.Context, id int64) ([]Version[Token], error)
	// CountTokens counts live tokens, so serve can tell a new operator how to make one.
	CountTokens(ctx context.Context) (int, error)
}

// Pinger checks that the database answers, for readiness.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Database is the database behind the services, as a whole.
type Database interface {
	Pinger
	// InstanceID returns the database's own random UUID (RFC 9562 text
	// form), made once when the database was created and kept with it (a
	// backup keeps it too). It namespaces the STIX ids the database mints,
	// so two databases never mint one id for different records
	// (CONTRACT.md §10).
	InstanceID(ctx context.Context) (string, error)
}

// ImportOutcome is what became of one record of a bulk import.
type ImportOutcome string

// Import outcomes.
const (
	ImportCreated ImportOutcome = "created"
	ImportUpdated ImportOutcome = "updated"
	// ImportUnchanged: the record's external_id is held by an incident
	// that already says the same (SameIncident); nothing was written and
	// no version made.
	ImportUnchanged ImportOutcome = "unchanged"
	ImportRejected  ImportOutcome = "rejected"
)

// ImportResult reports one record of a bulk import.
type ImportResult struct {
	Outcome ImportOutcome
	ID      int64
	Err     error // set when rejected; an *Error naming the field
}

// IncidentImporter bulk-loads incidents.
type IncidentImporter interface {
	// ImportIncidents stores a batch in one transaction. An incident whose
	// external_id is already stored replaces that incident (or is reported
	// ImportUnchanged when it says the same); others are
	// created. Actors an incident names that do not exist are created, named
	// by actorNames[id] (or their id). A record that fails validation is
	// rejected without affecting the others; an error return means the
	// whole batch was rolled back.
	ImportIncidents(ctx context.Context, batch []*Incident, actorNames map[string]string) ([]ImportResult, error)
}

// DataVersion names one state of everything the read services answer
// from. Two versions are equal only when nothing a read can see changed
// between them; they are compared for equality, never ordered.
type DataVersion struct {
	// Change is the last committed write, in an order every process sharing
	// the database agrees on (on SQLite, the highest history id).
	Change int64
	// Due counts the posture changes whose effective_at has come: reads show
	// such a change from that instant, before any write records it.
	Due int64
}

// DataVersioner tells which state of the data reads answer from, so that
// answers may be cached and reused while it holds.
type DataVersioner interface {
	// DataVersion returns the current version: every read started after it
	// returns answers from that state or a later one, and any committed
	// write (by this process or another one on the same database) or
	// posture change coming into effect makes later calls return another
	// version. An engine implements it only where it can keep that promise.
	DataVersion(ctx context.Context) (DataVersion, error)
}
