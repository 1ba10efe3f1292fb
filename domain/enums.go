package domain

import (
	"slices"
	"strings"
)

// IncidentType is what happened.
type IncidentType string

// IncidentTypes lists every valid IncidentType.
var IncidentTypes = []IncidentType{
	"indirect_fire", "direct_fire", "ied", "drone", "missile", "protest", "riot",
	"breach", "arson", "kidnapping", "threat", "surveillance", "cyber", "other",
}

// TimePrecision says how exactly occurred_at is known.
type TimePrecision string

// TimePrecisions lists every valid TimePrecision.
var TimePrecisions = []TimePrecision{"exact", "hour", "day", "month"}

// LocationPrecision says how exactly the geometry is known.
type LocationPrecision string

// LocationPrecisions lists every valid LocationPrecision.
var LocationPrecisions = []LocationPrecision{"exact", "facility", "city", "region", "country"}

// IncidentStatus is how far an incident report has been verified.
type IncidentStatus string

// IncidentStatuses lists every valid IncidentStatus.
var IncidentStatuses = []IncidentStatus{"reported", "confirmed", "disputed", "retracted"}

// ActorRole is an actor's part in an incident.
type ActorRole string

// ActorRoles lists every valid ActorRole.
var ActorRoles = []ActorRole{"perpetrator", "target", "claimant", "suspected"}

// FacilityKind is the kind of diplomatic post.
type FacilityKind string

// FacilityKinds lists every valid FacilityKind.
var FacilityKinds = []FacilityKind{
	"embassy", "consulate_general", "consulate", "mission", "residence", "office", "base", "other",
}

// Posture is a facility's operating status.
type Posture string

// Postures lists every valid Posture.
var Postures = []Posture{
	"normal", "elevated", "authorized_departure", "ordered_departure", "relocated", "suspended", "closed",
}

// ActorKind is what sort of actor this is.
type ActorKind string

// ActorKinds lists every valid ActorKind.
var ActorKinds = []ActorKind{
	"state", "state_agency", "armed_group", "militia", "person", "organization", "unknown",
}

// RelationKind is how one actor stands to another.
type RelationKind string

// RelationKinds lists every valid RelationKind.
var RelationKinds = []RelationKind{
	"controls", "directs", "facilitates", "sponsors", "member_of", "leads", "allied_with",
}

// Attributes reports whether responsibility flows from the subject to the
// target along this relation, for chain attribution.
func (k RelationKind) Attributes() bool {
	switch k {
	case "controls", "directs", "facilitates", "sponsors", "leads":
		return true
	}
	return false
}

// Role is what a token may do.
type Role string

// Roles from least to most privileged; each includes the ones before it.
const (
	RoleAnalyst Role = "analyst"
	RoleOfficer Role = "officer"
	RoleAdmin   Role = "admin"
)

// Roles lists every valid Role.
var Roles = []Role{RoleAnalyst, RoleOfficer, RoleAdmin}

// Allows reports whether a token with role r may act as need.
func (r Role) Allows(need Role) bool {
	return slices.Index(Roles, r) >= slices.Index(Roles, need) && slices.Contains(Roles, need)
}

// enumProblem records a problem if v is not one of valid.
func enumProblem[T ~string](p *Problems, field string, v T, valid []T) {
	if !slices.Contains(valid, v) {
		p.Add(field, "%q is not one of %s", string(v), enumList(valid))
	}
}

func enumList[T ~string](valid []T) string {
	s := make([]string, len(valid))
	for i, v := range valid {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// ParseEnumList parses a comma-separated list of enum values, as used by
// query parameters, returning an EINVALID error naming field on a bad value.
func ParseEnumList[T ~string](field, raw string, valid []T) ([]T, error) {
	var out []T
	for _, part := range strings.Split(raw, ",") {
		v := T(strings.TrimSpace(part))
		if !slices.Contains(valid, v) {
			return nil, InvalidField(field, "%q is not one of %s", string(v), enumList(valid))
		}
		out = append(out, v)
	}
	return out, nil
}
