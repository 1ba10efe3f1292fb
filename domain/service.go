package domain

import (
	"context"
	"time"
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
	// version. Returns EINVALID for bad fields or unknown facility/actors, and
	// ECONFLICT if its external_id is taken.
	CreateIncident(ctx context.Context, inc *Incident) error
	// ReplaceIncident overwrites incident id with inc. If ifVersion is not
	// zero and differs from the stored version it returns EPRECONDITION.
	ReplaceIncident(ctx context.Context, id int64, inc *Incident, ifVersion int) error
	// DeleteIncident removes id from listings, keeping its history.
	DeleteIncident(ctx context.Context, id int64, ifVersion int) error
	// IncidentHistory returns every version of id, oldest first, also after
	// deletion; ENOTFOUND if id never existed.
	IncidentHistory(ctx context.Context, id int64) ([]Version[Incident], error)
	// IncidentExtent returns the span of live incidents.
	IncidentExtent(ctx context.Context) (*Extent, error)
	// IncidentsAfter returns up to limit live incidents with ids above id,
	// in id order: the incidents stored since, by any process.
	IncidentsAfter(ctx context.Context, id int64, limit int) ([]Incident, error)
	// LastIncidentID is the highest incident id stored so far, 0 if none.
	LastIncidentID(ctx context.Context) (int64, error)
	// CountIncidents counts the incidents matching f (its paging and sort
	// ignored) in buckets: time buckets in time order, others by count.
	CountIncidents(ctx context.Context, f IncidentFilter, by GroupBy) ([]Bucket, error)
}

// GroupBy is how incident statistics are bucketed.
type GroupBy string

// GroupBys lists every valid GroupBy.
var GroupBys = []GroupBy{"day", "week", "month", "type", "actor", "facility", "country"}

// Bucket is one group of a statistic: days are 2018-09-07, weeks the date
// of their Monday, months 2018-09.
type Bucket struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
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

// ImportOutcome is what became of one record of a bulk import.
type ImportOutcome string

// Import outcomes.
const (
	ImportCreated  ImportOutcome = "created"
	ImportUpdated  ImportOutcome = "updated"
	ImportRejected ImportOutcome = "rejected"
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
	// external_id is already stored replaces that incident; others are
	// created. Actors an incident names that do not exist are created, named
	// by actorNames[id] (or their id). A record that fails validation is
	// rejected without affecting the others; an error return means the
	// whole batch was rolled back.
	ImportIncidents(ctx context.Context, batch []*Incident, actorNames map[string]string) ([]ImportResult, error)
}
