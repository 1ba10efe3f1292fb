package domain

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/geo"
)

// Limits on free-text and list inputs, so one record cannot exhaust memory.
const (
	MaxTitleLen       = 200
	MaxDescriptionLen = 20000
	MaxShortTextLen   = 500
	MaxListLen        = 100
	MaxSeverity       = 5
	// MaxRecordTextBytes bounds the text one incident holds in all, so a
	// page of DefaultLimit records stays a few MiB however each field is
	// filled (each field's own cap alone would allow about 1 MiB).
	MaxRecordTextBytes = 64 << 10
)

// Incident is one event against a diplomatic post or its people.
type Incident struct {
	ID                int64             `json:"id"`
	Location          orb.Point         `json:"location"`
	Type              IncidentType      `json:"type"`
	Title             string            `json:"title"`
	Description       string            `json:"description"`
	OccurredAt        time.Time         `json:"occurred_at"`
	TimePrecision     TimePrecision     `json:"time_precision"`
	LocationPrecision LocationPrecision `json:"location_precision"`
	Severity          int               `json:"severity"`
	Status            IncidentStatus    `json:"status"`
	Country           string            `json:"country"`
	FacilityID        *int64            `json:"facility_id"`
	Actors            []IncidentActor   `json:"actors"`
	Casualties        Casualties        `json:"casualties"`
	Sources           []Source          `json:"sources"`
	Tags              []string          `json:"tags"`
	ExternalID        *string           `json:"external_id"`
	// Original holds the values of an imported record in its source format
	// (ACLED's event_type, actor1, …), kept so nothing is lost in mapping.
	Original  map[string]string `json:"original,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Version   int               `json:"version"`
	// PossibleDuplicates is set by CreateIncident only: the live incidents
	// this one may repeat (see IsPossibleDuplicate), the latest
	// MaxPossibleDuplicates of them in id order. It is a hint for the
	// client, never stored.
	PossibleDuplicates []int64 `json:"-"`
}

// Duplicate-report rule: two reports of one type within DuplicateRadiusM
// and DuplicateWindow of each other are likely one event told twice (two
// officers at one gate), which the client offers to merge.
const (
	DuplicateRadiusM = 500
	DuplicateWindow  = 2 * time.Hour
	// MaxPossibleDuplicates bounds the hint to the latest reports: a gate
	// reported every few minutes would otherwise make every 201 carry
	// hundreds of ids and Link fields, past what HTTP clients accept
	// (Python's http.client stops at 100 header fields).
	MaxPossibleDuplicates = 20
)

// IsPossibleDuplicate reports whether other may be a second report of inc:
// same type, occurred within DuplicateWindow, within DuplicateRadiusM.
func IsPossibleDuplicate(inc, other *Incident) bool {
	if inc.ID == other.ID || inc.Type != other.Type {
		return false
	}
	dt := inc.OccurredAt.Sub(other.OccurredAt)
	if dt < -DuplicateWindow || dt > DuplicateWindow {
		return false
	}
	return geo.Distance(inc.Location, other.Location) <= DuplicateRadiusM
}

// IncidentActor links an actor to an incident in a role.
type IncidentActor struct {
	ActorID string    `json:"actor_id"`
	Role    ActorRole `json:"role"`
}

// MaxCasualties bounds each casualty count. No single event has come near
// it, so a larger number is a typing slip or an overflow; the bound also
// keeps the count within a 32-bit integer column on every engine and
// exact in every JSON client.
const MaxCasualties = 1_000_000

// Casualties counts people killed and injured.
type Casualties struct {
	Killed  int `json:"killed"`
	Injured int `json:"injured"`
}

// Source is a report an incident rests on.
type Source struct {
	URL         string     `json:"url"`
	Title       string     `json:"title"`
	PublishedAt *time.Time `json:"published_at"`
}

// ApplyDefaults fills the optional fields the contract gives defaults and
// normalises the others as they are stored (the location as served).
func (inc *Incident) ApplyDefaults() {
	if inc.TimePrecision == "" {
		inc.TimePrecision = "exact"
	}
	if inc.LocationPrecision == "" {
		inc.LocationPrecision = "exact"
	}
	if inc.Severity == 0 {
		inc.Severity = 1
	}
	if inc.Status == "" {
		inc.Status = "reported"
	}
	if inc.Actors == nil {
		inc.Actors = []IncidentActor{}
	}
	if inc.Sources == nil {
		inc.Sources = []Source{}
	}
	if inc.Tags == nil {
		inc.Tags = []string{}
	}
	inc.Country = strings.ToUpper(inc.Country)
	inc.OccurredAt = inc.OccurredAt.UTC().Truncate(time.Microsecond)
	inc.Location = servedPoint(inc.Location)
}

// Validate checks every invariant of an incident and reports each bad field
// by its GeoJSON path. It does not check that referenced records exist; the
// store does that inside the write transaction.
func (inc *Incident) Validate() error {
	var p Problems
	validateLocation(&p, inc.Location)
	if inc.Type == "" {
		p.Add("properties.type", "is required")
	} else {
		enumProblem(&p, "properties.type", inc.Type, IncidentTypes)
	}
	validateText(&p, "properties.title", inc.Title, MaxTitleLen, true)
	validateMultiline(&p, "properties.description", inc.Description, MaxDescriptionLen)
	if inc.OccurredAt.IsZero() {
		p.Add("properties.occurred_at", "is required")
	} else if y := inc.OccurredAt.Year(); y < 1000 || y > 9999 {
		p.Add("properties.occurred_at", "year %d is outside 1000..9999", y)
	}
	enumProblem(&p, "properties.time_precision", inc.TimePrecision, TimePrecisions)
	enumProblem(&p, "properties.location_precision", inc.LocationPrecision, LocationPrecisions)
	if inc.Severity < 1 || inc.Severity > MaxSeverity {
		p.Add("properties.severity", "%d is outside 1..%d", inc.Severity, MaxSeverity)
	}
	enumProblem(&p, "properties.status", inc.Status, IncidentStatuses)
	validateCountry(&p, "properties.country", inc.Country)
	if inc.FacilityID != nil && *inc.FacilityID <= 0 {
		p.Add("properties.facility_id", "%d is not a facility id", *inc.FacilityID)
	}
	validateList(&p, "properties.actors", len(inc.Actors))
	seen := map[IncidentActor]bool{}
	for i, a := range inc.Actors {
		field := "properties.actors[" + strconv.Itoa(i) + "]"
		if a.ActorID == "" {
			p.Add(field+".actor_id", "is required")
		}
		enumProblem(&p, field+".role", a.Role, ActorRoles)
		if seen[a] {
			p.Add(field, "actor %q is listed twice in role %q", a.ActorID, a.Role)
		}
		seen[a] = true
	}
	for _, c := range []struct {
		field string
		n     int
	}{{"killed", inc.Casualties.Killed}, {"injured", inc.Casualties.Injured}} {
		switch {
		case c.n < 0:
			p.Add("properties.casualties."+c.field, "must not be negative")
		case c.n > MaxCasualties:
			p.Add("properties.casualties."+c.field, "%d is more than %d", c.n, MaxCasualties)
		}
	}
	validateList(&p, "properties.sources", len(inc.Sources))
	for i, s := range inc.Sources {
		field := "properties.sources[" + strconv.Itoa(i) + "]"
		validateText(&p, field+".url", s.URL, 2000, false)
		if s.URL != "" && !urlPattern.MatchString(s.URL) {
			p.Add(field+".url", "must be an http(s) URL")
		}
		validateText(&p, field+".title", s.Title, MaxShortTextLen, false)
		if s.PublishedAt != nil {
			CheckTime(&p, field+".published_at", *s.PublishedAt)
		}
	}
	validateList(&p, "properties.tags", len(inc.Tags))
	for i, t := range inc.Tags {
		validateText(&p, "properties.tags["+strconv.Itoa(i)+"]", t, 100, true)
	}
	if inc.ExternalID != nil {
		validateText(&p, "properties.external_id", *inc.ExternalID, MaxShortTextLen, true)
	}
	validateList(&p, "properties.original", len(inc.Original))
	for k, v := range inc.Original {
		validateText(&p, "properties.original", k, MaxTitleLen, true)
		validateMultiline(&p, "properties.original."+k, v, MaxDescriptionLen)
	}
	if n := inc.textBytes(); n > MaxRecordTextBytes {
		p.Add("properties", "holds %d bytes of text, more than %d (description, sources, tags and original together)", n, MaxRecordTextBytes)
	}
	return p.Err()
}

// textBytes is the size of the incident's text in bytes.
func (inc *Incident) textBytes() int {
	n := len(inc.Title) + len(inc.Description) + len(inc.Country)
	for _, s := range inc.Sources {
		n += len(s.URL) + len(s.Title)
	}
	for _, t := range inc.Tags {
		n += len(t)
	}
	for _, a := range inc.Actors {
		n += len(a.ActorID)
	}
	for k, v := range inc.Original {
		n += len(k) + len(v)
	}
	if inc.ExternalID != nil {
		n += len(*inc.ExternalID)
	}
	return n
}

var (
	urlPattern = regexp.MustCompile(`^https?://\S+$`)
)

// servedPoint is pt rounded as every response writes it (geo.RoundPoint),
// so a record is stored where the API says it is: a bbox, a radius or a
// CQL2 point taken from a response finds it, and a PUT of what a GET
// returned changes nothing. A point that fails validation stays as sent,
// so the error quotes it.
func servedPoint(pt orb.Point) orb.Point {
	if geo.ValidatePoint(pt) != nil {
		return pt
	}
	return geo.RoundPoint(pt)
}

func validateLocation(p *Problems, pt orb.Point) {
	if err := geo.ValidatePoint(pt); err != nil {
		p.Add("geometry.coordinates", "%s", err.Error())
	}
}

func validateCountry(p *Problems, field, c string) {
	if c != "" && !IsCountry(c) {
		p.Add(field, "%q is not an ISO 3166-1 alpha-2 code", c)
	}
}

// validateText checks a one-line text field: present if required, UTF-8,
// at most maxLen characters, and free of control characters (C0, DEL, C1),
// which no title or name holds and which a terminal, a CSV reader or a log
// would act on rather than show.
func validateText(p *Problems, field, s string, maxLen int, required bool) {
	checkText(p, field, s, maxLen, required, false)
}

// validateMultiline is validateText for free prose (descriptions,
// reasons), which may also hold tabs and line breaks.
func validateMultiline(p *Problems, field, s string, maxLen int) {
	checkText(p, field, s, maxLen, false, true)
}

func checkText(p *Problems, field, s string, maxLen int, required, multiline bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		p.Add(field, "is required")
	case !utf8.ValidString(s):
		p.Add(field, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxLen:
		p.Add(field, "is longer than %d characters", maxLen)
	default:
		if i := strings.IndexFunc(s, func(r rune) bool {
			return unicode.IsControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r'))
		}); i >= 0 {
			r, _ := utf8.DecodeRuneInString(s[i:])
			allowed := ""
			if multiline {
				allowed = " (tab, line feed and carriage return are allowed)"
			}
			p.Add(field, "holds the control character U+%04X at byte %d%s", r, i, allowed)
		}
	}
}

func validateList(p *Problems, field string, n int) {
	if n > MaxListLen {
		p.Add(field, "has %d entries, more than %d", n, MaxListLen)
	}
}

// SameIncident reports whether writing next over cur would change nothing a
// client can set: every field but the server-set id, created_at,
// updated_at and version is equal, an absent list equal to an empty one.
// Such a write makes no version, and an import reports the record as
// ImportUnchanged; every store engine decides it with this one function.
func SameIncident(cur, next *Incident) bool {
	a, errA := json.Marshal(withoutServerFields(cur))
	b, errB := json.Marshal(withoutServerFields(next))
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// withoutServerFields is a copy of inc without its server-set fields and with its
// absent lists empty, as SameIncident compares them.
func withoutServerFields(inc *Incident) *Incident {
	c := *inc
	c.ID, c.CreatedAt, c.UpdatedAt, c.Version = 0, time.Time{}, time.Time{}, 0
	if c.Actors == nil {
		c.Actors = []IncidentActor{}
	}
	if c.Sources == nil {
		c.Sources = []Source{}
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	return &c
}
