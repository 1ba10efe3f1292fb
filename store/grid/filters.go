package grid

import "github.com/postwatch/postwatch/domain"

// DefaultMergeCells is the most grid cells a page is merged from in
// memory. A wider box that matches a large share of all incidents has its
// newest come first on the occurred_at index faster than through a merge
// of thousands of cells; its count still comes from the grid.
const DefaultMergeCells = 2_500

// WideShare is the inverse of the smallest share of all incidents a wide
// box must match for its page to come from the occurred_at index.
const WideShare = 8

// SyncBuild is the largest database whose grid an engine builds before
// its Open returns; a larger one is built in the background while queries
// take the engine's other path, so that startup stays short.
const SyncBuild = 100_000

// Counts reports whether the grid can count f's matches: its conditions
// are place, time, type and severity only, which the grid keeps for every
// incident.
func Counts(f domain.IncidentFilter) bool {
	return len(f.ActorIDs) == 0 && len(f.ActorRoles) == 0 && len(f.FacilityIDs) == 0 && len(f.Statuses) == 0 &&
		len(f.Countries) == 0 && f.Text == "" && f.Where == nil
}

// ByActor reports whether the grid can count f from its actors' lists:
// f's other conditions are the grid's, its attribution is direct (a
// chain's matches depend on relations in time) and any role counts.
func ByActor(f domain.IncidentFilter) bool {
	if len(f.ActorIDs) == 0 || len(f.ActorRoles) > 0 || f.Attribution == domain.AttributionChain {
		return false
	}
	f.ActorIDs = nil
	return Counts(f)
}

// Pages reports whether the grid answers f's page as well as its count: f
// has a place and only the grid's other conditions (type, severity), whose
// newest matches a merge of the place's cells finds, or f names actors
// (see ByActor), whose lists the grid keeps in time order. A type alone,
// without a place, keeps the occurred_at index.
func Pages(f domain.IncidentFilter) bool {
	return ByActor(f) || ((f.BBox != nil || f.Near != nil) && Counts(f))
}
