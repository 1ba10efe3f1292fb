// Package seeds holds the embedded seed data set — September 2018 in Iraq:
// the indirect fire at the U.S. Consulate General in Basrah and the Embassy
// in Baghdad, the Basra protests, the actors publicly blamed and the
// relocation of personnel — and loads it into an empty database.
package seeds

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

//go:embed data/sept2018.json
var sept2018 []byte

// Services are what loading the seeds writes through. History, when set,
// lets IsEmpty see records deleted since they were stored.
type Services struct {
	Incidents  domain.IncidentService
	Facilities domain.FacilityService
	Actors     domain.ActorService
	History    RecordHistory
}

// RecordHistory tells a database that never held a record from one whose
// records were all deleted: their history, and their ids, stay.
type RecordHistory interface {
	// HeldRecords reports whether an incident, facility or actor was ever
	// stored, deleted ones included.
	HeldRecords(ctx context.Context) (bool, error)
}

type dataSet struct {
	Actors    []domain.Actor `json:"actors"`
	Relations []struct {
		SubjectID string     `json:"subject_id"`
		Kind      string     `json:"kind"`
		TargetID  string     `json:"target_id"`
		ValidFrom *time.Time `json:"valid_from"`
		ValidTo   *time.Time `json:"valid_to"`
		Source    string     `json:"source"`
	} `json:"relations"`
	Facilities []struct {
		Key        string          `json:"key"`
		Geometry   pointJSON       `json:"geometry"`
		Properties domain.Facility `json:"properties"`
	} `json:"facilities"`
	Incidents []struct {
		Geometry   pointJSON `json:"geometry"`
		Properties struct {
			domain.Incident
			FacilityKey *string `json:"facility_key"`
		} `json:"properties"`
	} `json:"incidents"`
	Postures []struct {
		FacilityKey string         `json:"facility_key"`
		Posture     domain.Posture `json:"posture"`
		EffectiveAt time.Time      `json:"effective_at"`
		Reason      string         `json:"reason"`
	} `json:"postures"`
}

type pointJSON struct {
	Coordinates orb.Point `json:"coordinates"`
}

// IsEmpty reports whether the database holds no incidents, facilities or
// actors; tokens do not count. With svc.History, records deleted since
// count too: a database whose records were all deleted is not new, and
// loading the seed into it would bring back demonstration data (and fail
// on the deleted actors' ids, which stay taken).
func IsEmpty(ctx context.Context, svc Services) (bool, error) {
	if svc.History != nil {
		held, err := svc.History.HeldRecords(ctx)
		if err != nil || held {
			return false, err
		}
	}
	one := domain.Page{Limit: 1}
	inc, err := svc.Incidents.FindIncidents(ctx, domain.IncidentFilter{Page: one})
	if err != nil {
		return false, err
	}
	fac, err := svc.Facilities.FindFacilities(ctx, domain.FacilityFilter{Page: one})
	if err != nil {
		return false, err
	}
	_, actors, err := svc.Actors.FindActors(ctx, domain.ActorFilter{Page: one})
	if err != nil {
		return false, err
	}
	return inc.Matched == 0 && fac.Matched == 0 && actors == 0, nil
}

// LoadIfEmpty loads the seed data set when the database is empty and
// reports whether it did. Facilities end in the posture their recorded
// posture changes leave them in.
func LoadIfEmpty(ctx context.Context, svc Services) (bool, error) {
	empty, err := IsEmpty(ctx, svc)
	if err != nil || !empty {
		return false, err
	}
	var ds dataSet
	if err := json.Unmarshal(sept2018, &ds); err != nil {
		return false, fmt.Errorf("seed data: %w", err)
	}
	for i := range ds.Actors {
		if err := svc.Actors.CreateActor(ctx, &ds.Actors[i]); err != nil {
			return false, fmt.Errorf("seed actor %s: %w", ds.Actors[i].ID, err)
		}
	}
	for _, r := range ds.Relations {
		rel := domain.Relation{SubjectID: r.SubjectID, Kind: domain.RelationKind(r.Kind), TargetID: r.TargetID,
			ValidFrom: r.ValidFrom, ValidTo: r.ValidTo, Source: r.Source}
		if err := svc.Actors.CreateRelation(ctx, &rel); err != nil {
			return false, fmt.Errorf("seed relation %s %s %s: %w", r.SubjectID, r.Kind, r.TargetID, err)
		}
	}
	facilityIDs := map[string]int64{}
	for _, f := range ds.Facilities {
		fac := f.Properties
		fac.Location = f.Geometry.Coordinates
		// The recorded posture changes below bring each facility to its
		// current posture, so it starts out normal.
		fac.Posture = "normal"
		if err := svc.Facilities.CreateFacility(ctx, &fac); err != nil {
			return false, fmt.Errorf("seed facility %s: %w", f.Key, err)
		}
		facilityIDs[f.Key] = fac.ID
	}
	for _, in := range ds.Incidents {
		inc := in.Properties.Incident
		inc.Location = in.Geometry.Coordinates
		if k := in.Properties.FacilityKey; k != nil {
			id, ok := facilityIDs[*k]
			if !ok {
				return false, fmt.Errorf("seed incident %q: unknown facility %q", inc.Title, *k)
			}
			inc.FacilityID = &id
		}
		if err := svc.Incidents.CreateIncident(ctx, &inc); err != nil {
			return false, fmt.Errorf("seed incident %q: %w", inc.Title, err)
		}
	}
	for _, p := range ds.Postures {
		id, ok := facilityIDs[p.FacilityKey]
		if !ok {
			return false, fmt.Errorf("seed posture: unknown facility %q", p.FacilityKey)
		}
		c := domain.PostureChange{FacilityID: id, Posture: p.Posture, EffectiveAt: p.EffectiveAt, Reason: p.Reason}
		if err := svc.Facilities.RecordPosture(ctx, &c); err != nil {
			return false, fmt.Errorf("seed posture of %s: %w", p.FacilityKey, err)
		}
	}
	return true, nil
}
