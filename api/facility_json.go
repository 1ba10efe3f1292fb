package api

import (
	"encoding/json"
	"time"

	"github.com/postwatch/postwatch/domain"
)

type facilityProps struct {
	Name         string              `json:"name"`
	Kind         domain.FacilityKind `json:"kind"`
	Country      string              `json:"country"`
	City         string              `json:"city"`
	AlertRadiusM float64             `json:"alert_radius_m"`
	Posture      domain.Posture      `json:"posture"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
	Version      int                 `json:"version"`
	DistanceM    *float64            `json:"distance_m,omitempty"`
}

func facilityFeature(f *domain.Facility, distance *float64) feature {
	if distance != nil {
		d := float64(int64(*distance*10+0.5)) / 10
		distance = &d
	}
	return feature{
		Type: "Feature", ID: f.ID, Geometry: newPoint(f.Location), version: f.Version,
		Properties: &facilityProps{
			Name: f.Name, Kind: f.Kind, Country: f.Country, City: f.City, AlertRadiusM: f.AlertRadiusM,
			Posture: f.Posture, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, Version: f.Version, DistanceM: distance,
		},
	}
}

type facilityPropsIn struct {
	Name         *string         `json:"name"`
	Kind         *string         `json:"kind"`
	Country      *string         `json:"country"`
	City         *string         `json:"city"`
	AlertRadiusM *float64        `json:"alert_radius_m"`
	Posture      *string         `json:"posture"`
	CreatedAt    json.RawMessage `json:"created_at"`
	UpdatedAt    json.RawMessage `json:"updated_at"`
	Version      json.RawMessage `json:"version"`
	DistanceM    json.RawMessage `json:"distance_m"`
}

// DecodeFacility reads a GeoJSON Feature into a facility with defaults applied.
func DecodeFacility(data []byte) (*domain.Facility, error) {
	f, pt, err := decodeFeature(data)
	if err != nil {
		return nil, err
	}
	var in facilityPropsIn
	if err := decodeStrict(f.Properties, &in, "properties."); err != nil {
		return nil, err
	}
	fac := &domain.Facility{Location: pt}
	setString(&fac.Name, in.Name)
	setString(&fac.Country, in.Country)
	setString(&fac.City, in.City)
	setEnum(&fac.Kind, in.Kind)
	setEnum(&fac.Posture, in.Posture)
	if in.AlertRadiusM != nil {
		fac.AlertRadiusM = *in.AlertRadiusM
		if *in.AlertRadiusM == 0 {
			return nil, domain.InvalidField("properties.alert_radius_m", "must be greater than 0")
		}
	}
	fac.ApplyDefaults()
	return fac, fac.Validate()
}
