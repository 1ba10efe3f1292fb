package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/postwatch/postwatch/domain"
)

// Collections named in the history table.
const (
	CollIncidents  = "incidents"
	CollFacilities = "facilities"
	CollActors     = "actors"
	CollRelations  = "relations"
	CollTokens     = "tokens"
)

// History operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
	OpRevoke = "revoke"
)

// CheckVersion returns EPRECONDITION when the caller expected another
// version (If-Match, RFC 9110 §13.1.1); want 0 means no expectation.
func CheckVersion(want, have int) error {
	if want != 0 && want != have {
		return domain.Errorf(domain.EPRECONDITION, "the record is at version %d, not %d", have, want)
	}
	return nil
}

// Same reports whether a replacement leaves a record as it is, server-set
// fields included (the caller copies them over first): such a write is no
// change, so it makes no version.
func Same(cur, next any) bool {
	a, errA := json.Marshal(cur)
	b, errB := json.Marshal(next)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// Changes checks an If-Match version (ifVersion, 0 for none) against the
// stored one and reports whether next, into which the caller has copied
// cur's server-set fields, differs from cur: a replacement that changes
// nothing makes no version.
func Changes(ifVersion, stored int, cur, next any) (bool, error) {
	if err := CheckVersion(ifVersion, stored); err != nil {
		return false, err
	}
	return !Same(cur, next), nil
}

// ExternalIDTaken is the ECONFLICT of an incident whose external_id
// incident other holds.
func ExternalIDTaken(externalID string, other int64) error {
	return &domain.Error{Code: domain.ECONFLICT, Message: fmt.Sprintf("external_id %q belongs to incident %d", externalID, other),
		Fields: []domain.FieldError{{Field: "properties.external_id", Message: fmt.Sprintf("already used by incident %d", other)}}}
}

// ExternalIDOfDeleted is the ECONFLICT of an imported record whose
// external_id incident other held until it was deleted: a deleted incident
// keeps its external_id, so that an import does not bring it back.
func ExternalIDOfDeleted(externalID string, other int64) error {
	return &domain.Error{Code: domain.ECONFLICT,
		Message: fmt.Sprintf("external_id %q belongs to incident %d, which was deleted; an import does not bring a deleted incident back", externalID, other),
		Fields:  []domain.FieldError{{Field: "properties.external_id", Message: fmt.Sprintf("held by deleted incident %d", other)}}}
}

// ImportedActor is the actor an import creates for an id its records name
// that does not exist: named by actorNames, or by its id.
func ImportedActor(id string, actorNames map[string]string) (*domain.Actor, error) {
	name := actorNames[id]
	if name == "" {
		name = id
	}
	a := &domain.Actor{ID: id, Name: name}
	a.ApplyDefaults()
	return a, a.Validate()
}
