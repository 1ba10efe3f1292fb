package store

import (
	"bytes"
	"encoding/json"

	"github.com/postwatch/postwatch/domain"
)

// Collections named in the history table.
const (
	CollIncidents  = "incidents"
	CollFacilities = "facilities"
	CollActors     = "actors"
)

// History operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
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
