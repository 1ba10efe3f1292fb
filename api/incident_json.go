package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// pointGeometry is a GeoJSON Point written with at most 7 decimals.
type pointGeometry struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

func newPoint(p [2]float64) pointGeometry {
	return pointGeometry{Type: "Point", Coordinates: geo.RoundPoint(p)}
}

// feature is a GeoJSON Feature as written. Encoding these typed structs is
// several times cheaper than building orb geojson.Features on the hot path.
type feature struct {
	Type       string        `json:"type"`
	ID         int64         `json:"id"`
	Geometry   pointGeometry `json:"geometry"`
	Properties any           `json:"properties"`
	Links      []link        `json:"links,omitempty"`
	version    int
	// only lists the properties an items request selected with properties=
	// (nil: all); noGeometry writes "geometry": null (skipGeometry=true).
	// Both shape the items stream only (appendFeature).
	only       []string
	noGeometry bool
}

// incidentProps are an incident's GeoJSON properties: the incident itself
// (shared, never modified) and its distance from a near= point. They are
// written by appendIncidentProps, whose field names and order are the
// API's; feature_json_test.go holds it to a tagged struct encoded by
// encoding/json.
type incidentProps struct {
	*domain.Incident
	DistanceM *float64
	// Attribution is why the incident matched actor= under chain
	// attribution; nil otherwise.
	Attribution *domain.Chain
}

// MarshalJSON lets encoding/json (single features, alerts) write the same
// bytes as the items stream.
func (p *incidentProps) MarshalJSON() ([]byte, error) {
	return appendIncidentProps(make([]byte, 0, 1024), p), nil
}

func incidentFeature(inc *domain.Incident, distance *float64) feature {
	if distance != nil {
		d := float64(int64(*distance*10+0.5)) / 10
		distance = &d
	}
	return feature{
		Type: "Feature", ID: inc.ID, Geometry: newPoint(inc.Location), version: inc.Version,
		Properties: &incidentProps{Incident: inc, DistanceM: distance},
	}
}

// incidentPropsIn is the writable part of an incident's properties.
// Pointers tell "absent" (take the default) from a given zero value, which
// validation then rejects. Server-set fields are accepted and ignored, so a
// client can send back a feature it read.
type incidentPropsIn struct {
	Type              *string           `json:"type"`
	Title             *string           `json:"title"`
	Description       *string           `json:"description"`
	OccurredAt        *string           `json:"occurred_at"`
	TimePrecision     *string           `json:"time_precision"`
	LocationPrecision *string           `json:"location_precision"`
	Severity          *int              `json:"severity"`
	Status            *string           `json:"status"`
	Country           *string           `json:"country"`
	FacilityID        *int64            `json:"facility_id"`
	Actors            []json.RawMessage `json:"actors"`     // []domain.IncidentActor
	ActorID           *string           `json:"actor_id"`   // shorthand for one perpetrator
	Casualties        json.RawMessage   `json:"casualties"` // domain.Casualties
	Sources           []json.RawMessage `json:"sources"`    // []sourceIn
	Tags              []string          `json:"tags"`
	ExternalID        *string           `json:"external_id"`
	Original          map[string]string `json:"original"`
	CreatedAt         json.RawMessage   `json:"created_at"`
	UpdatedAt         json.RawMessage   `json:"updated_at"`
	Version           json.RawMessage   `json:"version"`
	DistanceM         json.RawMessage   `json:"distance_m"`
	Attribution       json.RawMessage   `json:"attribution"` // a chain shown by a read
	// PossibleDuplicates comes back in a feature a client read after
	// creating it; it is a hint, never stored.
	PossibleDuplicates json.RawMessage `json:"possible_duplicates"`
}

type sourceIn struct {
	URL         string  `json:"url"`
	Title       string  `json:"title"`
	PublishedAt *string `json:"published_at"`
}

// DecodeIncident reads a GeoJSON Feature into an incident with defaults
// applied; it checks JSON shape, the domain checks the values.
func DecodeIncident(data []byte) (*domain.Incident, error) {
	inc, _, err := DecodeIncidentFeature(data)
	return inc, err
}

// DecodeIncidentFeature is DecodeIncident that also returns the feature's
// "id" member as text ("" when absent), which imports keep as external_id.
func DecodeIncidentFeature(data []byte) (*domain.Incident, string, error) {
	f, pt, err := decodeFeature(data)
	if err != nil {
		return nil, "", err
	}
	inc, err := decodeIncidentProps(f, pt)
	return inc, strings.Trim(string(bytes.TrimSpace(f.ID)), `"`), err
}

func decodeIncidentProps(f *featureIn, pt orb.Point) (*domain.Incident, error) {
	var in incidentPropsIn
	if err := decodeStrict(f.Properties, &in, "properties."); err != nil {
		return nil, err
	}
	// Nested objects are decoded on their own so errors name their path.
	actors, err := decodeEach[domain.IncidentActor](in.Actors, "properties.actors")
	if err != nil {
		return nil, err
	}
	sources, err := decodeEach[sourceIn](in.Sources, "properties.sources")
	if err != nil {
		return nil, err
	}
	inc := &domain.Incident{Location: pt, Actors: actors, Tags: in.Tags, FacilityID: in.FacilityID,
		ExternalID: in.ExternalID, Original: in.Original}
	if !isNull(in.Casualties) {
		if err := decodeStrict(in.Casualties, &inc.Casualties, "properties.casualties."); err != nil {
			return nil, err
		}
	}
	var p domain.Problems
	if in.ActorID != nil {
		inc.Actors = append(inc.Actors, domain.IncidentActor{ActorID: *in.ActorID, Role: "perpetrator"})
	}
	setString(&inc.Title, in.Title)
	setString(&inc.Description, in.Description)
	setString(&inc.Country, in.Country)
	setEnum(&inc.Type, in.Type)
	setEnum(&inc.TimePrecision, in.TimePrecision)
	setEnum(&inc.LocationPrecision, in.LocationPrecision)
	setEnum(&inc.Status, in.Status)
	if in.OccurredAt != nil {
		t, _, err := domain.ParseDateOrRFC3339(*in.OccurredAt)
		if err != nil {
			p.Add("properties.occurred_at", "%s", err.Error())
		}
		inc.OccurredAt = t
	}
	if in.Severity != nil {
		inc.Severity = *in.Severity
		if *in.Severity == 0 {
			p.Add("properties.severity", "0 is outside 1..%d", domain.MaxSeverity)
		}
	}
	for i, s := range sources {
		src := domain.Source{URL: s.URL, Title: s.Title}
		if s.PublishedAt != nil {
			t, _, err := domain.ParseDateOrRFC3339(*s.PublishedAt)
			if err != nil {
				p.Add("properties.sources["+strconv.Itoa(i)+"].published_at", "%s", err.Error())
			}
			src.PublishedAt = &t
		}
		inc.Sources = append(inc.Sources, src)
	}
	inc.ApplyDefaults()
	err = inc.Validate()
	if len(p) > 0 {
		// A time that did not parse was left zero, which Validate would
		// also call missing: each field is reported once, by its real fault.
		var de *domain.Error
		if errors.As(err, &de) {
			for _, fe := range de.Fields {
				if !slices.ContainsFunc(p, func(q domain.FieldError) bool { return q.Field == fe.Field }) {
					p = append(p, fe)
				}
			}
		}
		return nil, p.Err()
	}
	return inc, err
}

func setString(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func setEnum[T ~string](dst *T, v *string) {
	if v != nil {
		*dst = T(*v)
	}
}
