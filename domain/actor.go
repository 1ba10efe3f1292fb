package domain

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Actor is a state, agency, armed group or person that acts in incidents.
type Actor struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Kind        ActorKind `json:"kind"`
	Aliases     []string  `json:"aliases"`
	Country     string    `json:"country"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int       `json:"version"`
}

var actorIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// ApplyDefaults fills the optional fields.
func (a *Actor) ApplyDefaults() {
	if a.Kind == "" {
		a.Kind = "unknown"
	}
	if a.Aliases == nil {
		a.Aliases = []string{}
	}
	a.Country = strings.ToUpper(a.Country)
}

// Validate checks every invariant of an actor.
func (a *Actor) Validate() error {
	var p Problems
	if !actorIDPattern.MatchString(a.ID) {
		p.Add("id", "%q must be 1-100 lowercase letters, digits, '.', '_' or '-'", a.ID)
	}
	validateText(&p, "name", a.Name, MaxTitleLen, true)
	enumProblem(&p, "kind", a.Kind, ActorKinds)
	validateList(&p, "aliases", len(a.Aliases))
	for i, s := range a.Aliases {
		validateText(&p, "aliases["+strconv.Itoa(i)+"]", s, MaxTitleLen, true)
	}
	validateCountry(&p, "country", a.Country)
	validateMultiline(&p, "description", a.Description, MaxDescriptionLen)
	return p.Err()
}

// Slug derives an actor id from a name: "Kata'ib Hezbollah" → "kataib-hezbollah".
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r == '\'' || r == '’':
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if len(s) > 100 {
		s = strings.TrimSuffix(s[:100], "-")
	}
	return s
}

// Relation is a directed edge of the actor graph: Subject Kind Target, as in
// "IRGC Quds Force directs Kata'ib Hezbollah".
type Relation struct {
	ID        int64        `json:"id"`
	SubjectID string       `json:"subject_id"`
	Kind      RelationKind `json:"kind"`
	TargetID  string       `json:"target_id"`
	ValidFrom *time.Time   `json:"valid_from"`
	ValidTo   *time.Time   `json:"valid_to"`
	Source    string       `json:"source"`
}

// Validate checks a relation's own fields; the store checks that both
// actors exist.
func (r *Relation) Validate() error {
	var p Problems
	if r.Kind == "" {
		p.Add("kind", "is required")
	} else {
		enumProblem(&p, "kind", r.Kind, RelationKinds)
	}
	if r.TargetID == "" {
		p.Add("target_id", "is required")
	} else if r.TargetID == r.SubjectID {
		p.Add("target_id", "an actor cannot relate to itself")
	}
	if r.ValidFrom != nil {
		CheckTime(&p, "valid_from", *r.ValidFrom)
	}
	if r.ValidTo != nil {
		CheckTime(&p, "valid_to", *r.ValidTo)
	}
	if r.ValidFrom != nil && r.ValidTo != nil && r.ValidTo.Before(*r.ValidFrom) {
		p.Add("valid_to", "is before valid_from")
	}
	validateMultiline(&p, "source", r.Source, MaxDescriptionLen)
	return p.Err()
}

// ValidAt reports whether the relation holds at t.
func (r *Relation) ValidAt(t time.Time) bool {
	return (r.ValidFrom == nil || !t.Before(*r.ValidFrom)) && (r.ValidTo == nil || t.Before(*r.ValidTo))
}
