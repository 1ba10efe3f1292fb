package store

import (
	"context"

	"github.com/postwatch/postwatch/domain"
)

// Services is every domain service an engine's store implements, as the
// commands and the test suites use a store of either engine.
type Services interface {
	domain.IncidentService
	domain.FacilityService
	domain.ActorService
	domain.TokenService
	domain.Database
	domain.IncidentImporter
	domain.AlertService
	domain.WebhookService
	// ApplyDuePostures writes the posture changes recorded ahead of time
	// that have come due as facility versions; serve calls it every second.
	ApplyDuePostures(ctx context.Context) (int, error)
	// HeldRecords reports whether an incident, facility or actor was ever
	// stored, deleted ones included (seeds.RecordHistory).
	HeldRecords(ctx context.Context) (bool, error)
	Close() error
}
