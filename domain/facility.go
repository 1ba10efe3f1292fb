package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// DefaultAlertRadius is a facility's alert radius when none is given.
const DefaultAlertRadius = 5000

// MaxAlertRadius bounds alert radii to something a post could care about.
const MaxAlertRadius = 500_000

// Facility is a diplomatic post: an embassy, a consulate, a residence…
type Facility struct {
	ID           int64        `json:"id"`
	Location     orb.Point    `json:"location"`
	Name         string       `json:"name"`
	Kind         FacilityKind `json:"kind"`
	Country      string       `json:"country"`
	City         string       `json:"city"`
	AlertRadiusM float64      `json:"alert_radius_m"`
	Posture      Posture      `json:"posture"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
	Version      int          `json:"version"`
}

// ApplyDefaults fills the optional fields the contract gives defaults and
// normalises the others as they are stored (the location as served).
func (f *Facility) ApplyDefaults() {
	if f.Kind == "" {
		f.Kind = "other"
	}
	if f.AlertRadiusM == 0 {
		f.AlertRadiusM = DefaultAlertRadius
	}
	f.Country = strings.ToUpper(f.Country)
	f.Location = servedPoint(f.Location)
}

// SettlePosture gives a facility write its posture. cur is the posture in
// effect, "" for a new facility, which starts at the posture it is given
// (normal by default). After that the posture is that of the latest change
// in effect (CONTRACT §6) and changes only by recording one, so a write may
// leave it out or repeat it, as a PUT of what a GET returned does, and one
// naming another posture is refused.
func (f *Facility) SettlePosture(cur Posture) error {
	switch {
	case cur == "":
		if f.Posture == "" {
			f.Posture = "normal"
		}
	case f.Posture == "" || f.Posture == cur:
		f.Posture = cur
	default:
		return InvalidField("properties.posture", "is %s and changes only by a posture change (POST /collections/facilities/items/{id}/postures), not to %s by a facility write", cur, f.Posture)
	}
	return nil
}

// Validate checks every invariant of a facility.
func (f *Facility) Validate() error {
	var p Problems
	validateLocation(&p, f.Location)
	validateText(&p, "properties.name", f.Name, MaxTitleLen, true)
	enumProblem(&p, "properties.kind", f.Kind, FacilityKinds)
	validateCountry(&p, "properties.country", f.Country)
	validateText(&p, "properties.city", f.City, MaxShortTextLen, false)
	if f.AlertRadiusM <= 0 || f.AlertRadiusM > MaxAlertRadius {
		p.Add("properties.alert_radius_m", "%g is outside (0, %d]", f.AlertRadiusM, MaxAlertRadius)
	}
	if f.Posture != "" { // SettlePosture sets it
		enumProblem(&p, "properties.posture", f.Posture, Postures)
	}
	return p.Err()
}

// PostureChange is a recorded change of a facility's posture, such as the
// temporary relocation of diplomatic personnel.
type PostureChange struct {
	ID          int64     `json:"id"`
	FacilityID  int64     `json:"facility_id"`
	Posture     Posture   `json:"posture"`
	EffectiveAt time.Time `json:"effective_at"`
	Reason      string    `json:"reason"`
	RecordedAt  time.Time `json:"recorded_at"`
	RecordedBy  string    `json:"recorded_by"`
	// IncidentIDs are the incidents that prompted the change.
	IncidentIDs []int64 `json:"incident_ids"`
}

// Validate checks a posture change before it is recorded.
func (c *PostureChange) Validate() error {
	var p Problems
	if c.Posture == "" {
		p.Add("posture", "is required")
	} else {
		enumProblem(&p, "posture", c.Posture, Postures)
	}
	if c.EffectiveAt.IsZero() {
		p.Add("effective_at", "is required")
	} else {
		CheckTime(&p, "effective_at", c.EffectiveAt)
	}
	validateMultiline(&p, "reason", c.Reason, MaxDescriptionLen)
	validateList(&p, "incident_ids", len(c.IncidentIDs))
	// An incident named twice is a client's slip, refused as an actor
	// listed twice in one role is, so the stored list means what it says.
	for i, id := range c.IncidentIDs {
		if slices.Contains(c.IncidentIDs[:i], id) {
			p.Add("incident_ids["+strconv.Itoa(i)+"]", "incident %d is listed twice", id)
		}
	}
	return p.Err()
}
