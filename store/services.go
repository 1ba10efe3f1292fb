package store

import "github.com/postwatch/postwatch/domain"

// Services is every domain service an engine's store implements, as the
// commands and the test suites use a store of either engine.
type Services interface {
	domain.IncidentService
	domain.FacilityService
	domain.ActorService
	domain.TokenService
	domain.Database
	domain.IncidentImporter
	Close() error
}
