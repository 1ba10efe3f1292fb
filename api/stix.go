package api

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

const (
	stixContentType = "application/stix+json;version=2.1"
	stixTime        = "2006-01-02T15:04:05.000Z"
)

// stixPrecision is a location's STIX precision in meters for each
// location_precision: how far the true place may lie from the point.
var stixPrecision = map[domain.LocationPrecision]float64{
	"exact": 10, "facility": 250, "city": 10_000, "region": 100_000, "country": 1_000_000,
}

// stixBundle writes incidents as one STIX 2.1 bundle, object by object, so
// an export of any size is never held whole. Each incident becomes an
// incident SDO with its location (located-at); each actor it names becomes,
// once per bundle, a threat-actor (armed groups, militias, unknown actors)
// or an identity (states, state agencies, organizations, persons); a
// perpetrator, suspect or claimant is linked by attributed-to and a target by
// targets; under chain attribution the actors of each chain join them; and
// the relations among all these actors close the bundle, with start_time
// and stop_time from valid_from and valid_to (stixRelation gives their
// types). docs/api.md ("STIX 2.1") has the whole mapping.
type stixBundle struct {
	s        *Server
	ids      stixIDs
	w        *bufio.Writer
	n        int                      // objects written
	named    map[string]*domain.Actor // actors written, nil when not stored
	order    []string                 // named, in order of first mention
	personas map[string]string        // threat-actor ids written for identities, by actor id
	buf      []byte                   // one object's encoding, reused
}

// newSTIXBundle prepares a bundle; it fails, before anything is written,
// only when the database's namespace cannot be read.
func (s *Server) newSTIXBundle(ctx context.Context) (*stixBundle, error) {
	ids, err := s.stixIDsOf(ctx)
	if err != nil {
		return nil, err
	}
	return &stixBundle{s: s, ids: ids, named: map[string]*domain.Actor{}, personas: map[string]string{}}, nil
}

// start begins the bundle on w. Its "objects" is left out when no object
// follows, since STIX requires at least one in it.
func (b *stixBundle) start(w io.Writer) {
	b.w = bufio.NewWriterSize(w, 32<<10)
	b.w.WriteString(`{"type":"bundle","id":"` + randomBundleID() + `"`)
}

func (b *stixBundle) object(o any) error {
	if b.n == 0 {
		b.w.WriteString(`,"objects":[`)
	} else {
		b.w.WriteByte(',')
	}
	b.n++
	var err error
	if b.buf, err = appendMarshal(b.buf[:0], o); err != nil {
		return err
	}
	_, err = b.w.Write(b.buf)
	return err
}

// incidents adds the objects of a page of incident features.
func (b *stixBundle) incidents(ctx context.Context, fs []feature) error {
	for i := range fs {
		if err := b.incident(ctx, &fs[i]); err != nil {
			return err
		}
	}
	return b.w.Flush()
}

// stixCommon are the properties every STIX object written here has. The
// objects of each incident are typed structs, not maps: encoding/json
// writes them at twice the speed, which is what a large export costs.
type stixCommon struct {
	Type        string `json:"type"`
	SpecVersion string `json:"spec_version"`
	ID          string `json:"id"`
	Created     string `json:"created"`
	Modified    string `json:"modified"`
}

type stixRef struct {
	SourceName string `json:"source_name"`
	ExternalID string `json:"external_id,omitempty"`
	URL        string `json:"url,omitempty"`
}

type stixIncident struct {
	stixCommon
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	Labels        []string  `json:"labels"`
	References    []stixRef `json:"external_references"`
	OccurredAt    string    `json:"x_postwatch_occurred_at"`
	TimePrecision string    `json:"x_postwatch_time_precision"`
	Severity      int       `json:"x_postwatch_severity"`
	Status        string    `json:"x_postwatch_status"`
	Killed        int       `json:"x_postwatch_killed"`
	Injured       int       `json:"x_postwatch_injured"`
}

type stixLocation struct {
	stixCommon
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Precision float64 `json:"precision"`
	Country   string  `json:"country,omitempty"`
}

type stixRelationship struct {
	stixCommon
	RelationshipType string `json:"relationship_type"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
	Description      string `json:"description,omitempty"`
	StartTime        string `json:"start_time,omitempty"`
	StopTime         string `json:"stop_time,omitempty"`
	Role             string `json:"x_postwatch_role,omitempty"`
	Kind             string `json:"x_postwatch_kind,omitempty"`
}

func (b *stixBundle) incident(ctx context.Context, f *feature) error {
	p := f.Properties.(*incidentProps)
	id := strconv.FormatInt(f.ID, 10)
	created, modified := p.CreatedAt.UTC().Format(stixTime), p.UpdatedAt.UTC().Format(stixTime)
	common := func(typ, name string) stixCommon {
		return stixCommon{Type: typ, SpecVersion: "2.1", ID: b.ids.id(typ, name), Created: created, Modified: modified}
	}
	inc := stixIncident{stixCommon: common("incident", "incident:"+id), Name: p.Title, Description: p.Description,
		Labels: append([]string{string(p.Type)}, p.Tags...), References: []stixRef{{SourceName: "postwatch", ExternalID: id}},
		OccurredAt: p.OccurredAt.UTC().Format(stixTime), TimePrecision: string(p.TimePrecision), Severity: p.Severity,
		Status: string(p.Status), Killed: p.Casualties.Killed, Injured: p.Casualties.Injured}
	if p.ExternalID != nil {
		inc.References = append(inc.References, stixRef{SourceName: "external", ExternalID: *p.ExternalID})
	}
	for _, s := range p.Sources {
		if s.URL != "" {
			name := s.Title
			if name == "" {
				name = "source"
			}
			inc.References = append(inc.References, stixRef{SourceName: name, URL: s.URL})
		}
	}
	loc := stixLocation{stixCommon: common("location", "location:"+id), Latitude: f.Geometry.Coordinates[1],
		Longitude: f.Geometry.Coordinates[0], Precision: stixPrecision[p.LocationPrecision], Country: p.Country}
	at := stixRelationship{stixCommon: common("relationship", "relationship:located-at:"+id), RelationshipType: "located-at",
		SourceRef: inc.ID, TargetRef: loc.ID}
	for _, o := range []any{&inc, &loc, &at} {
		if err := b.object(o); err != nil {
			return err
		}
	}
	for _, a := range p.Actors {
		actorRef, err := b.actor(ctx, a.ActorID, p.CreatedAt)
		if err != nil {
			return err
		}
		kind, persona := "attributed-to", ""
		switch {
		case !slices.Contains(domain.AttributionRoles, a.Role):
			kind = "targets"
			if strings.HasPrefix(actorRef, "threat-actor--") {
				// OpenCTI takes targets from an incident to identities
				// and places only; x_postwatch_role keeps the role.
				kind = "related-to"
			}
		case strings.HasPrefix(actorRef, "identity--"):
			// STIX attributes to a threat actor, and OpenCTI imports an
			// incident's attribution to nothing else. Another target
			// makes another relationship, with an id of its own.
			if actorRef, err = b.persona(a.ActorID); err != nil {
				return err
			}
			persona = ":persona"
		}
		name := "relationship:" + kind + ":" + id + ":" + a.ActorID + ":" + string(a.Role) + persona
		r := stixRelationship{stixCommon: common("relationship", name),
			RelationshipType: kind, SourceRef: inc.ID, TargetRef: actorRef, Role: string(a.Role)}
		if err := b.object(&r); err != nil {
			return err
		}
	}
	// Under chain attribution the actors along the chain join the bundle,
	// so that the relations written at its close show why it holds.
	if ch := p.Attribution; ch != nil {
		for _, id := range ch.Path {
			if _, err := b.actor(ctx, id, p.CreatedAt); err != nil {
				return err
			}
		}
	}
	return nil
}

// stixActorType is the SDO type of an actor kind: armed groups, militias
// and actors of unknown kind exist, for a CTI reader, through their
// hostility and are threat actors; states, state agencies, organizations and
// persons are identities, whether they attack a post or are attacked, as the
// U.S. Department of State is. It depends on the kind alone, so an actor
// keeps one id in every bundle.
func stixActorType(k domain.ActorKind) string {
	switch k {
	case "state", "state_agency", "organization", "person":
		return "identity"
	}
	return "threat-actor"
}

// actor writes the actor's SDO the first time the bundle names it and
// returns its id. An actor no longer stored is written from its id alone.
func (b *stixBundle) actor(ctx context.Context, actorID string, fallback time.Time) (string, error) {
	a, seen := b.named[actorID]
	if !seen {
		var err error
		a, err = b.s.actors.FindActorByID(ctx, actorID)
		if err != nil && domain.ErrorCodeOf(err) != domain.ENOTFOUND {
			return "", err
		}
		b.named[actorID] = a
		b.order = append(b.order, actorID)
	}
	kind := domain.ActorKind("unknown")
	if a != nil {
		kind = a.Kind
	}
	typ := stixActorType(kind)
	ref := b.ids.id(typ, "actor:"+actorID)
	if seen {
		return ref, nil
	}
	o := map[string]any{"type": typ, "spec_version": "2.1", "id": ref, "name": actorID,
		"created": fallback.UTC().Format(stixTime), "modified": fallback.UTC().Format(stixTime),
		"external_references": []map[string]any{{"source_name": "postwatch", "external_id": actorID}},
		"x_postwatch_kind":    string(kind)}
	if a != nil {
		o["name"], o["created"], o["modified"] = a.Name, a.CreatedAt.UTC().Format(stixTime), a.UpdatedAt.UTC().Format(stixTime)
		if a.Description != "" {
			o["description"] = a.Description
		}
		if len(a.Aliases) > 0 && typ == "threat-actor" {
			o["aliases"] = a.Aliases
		}
		if a.Country != "" {
			o["x_postwatch_country"] = a.Country
		}
	}
	switch kind {
	case "state", "state_agency":
		o["identity_class"], o["sectors"] = "organization", []string{"government-national"}
	case "organization":
		o["identity_class"] = "organization"
	case "person":
		o["identity_class"] = "individual"
	default:
		o["threat_actor_types"] = []string{"unknown"}
	}
	return ref, b.object(o)
}

// persona writes, the first time an identity is held responsible for an
// incident, the threat actor through which it acted: a threat-actor with
// the identity's UUID and name, nation-state for states and their agencies,
// attributed-to the identity (STIX 2.1, 4.17: the identity behind a threat
// actor). It returns the threat actor's id, the same in every bundle.
func (b *stixBundle) persona(actorID string) (string, error) {
	if ref, ok := b.personas[actorID]; ok {
		return ref, nil
	}
	a := b.named[actorID]
	ref, identity := b.ids.id("threat-actor", "actor:"+actorID), b.ids.id("identity", "actor:"+actorID)
	b.personas[actorID] = ref
	common := stixCommon{Type: "threat-actor", SpecVersion: "2.1", ID: ref,
		Created: a.CreatedAt.UTC().Format(stixTime), Modified: a.UpdatedAt.UTC().Format(stixTime)}
	types := []string{"unknown"}
	if a.Kind == "state" || a.Kind == "state_agency" {
		types = []string{"nation-state"}
	}
	o := map[string]any{"type": common.Type, "spec_version": common.SpecVersion, "id": ref, "name": a.Name,
		"created": common.Created, "modified": common.Modified, "threat_actor_types": types,
		"external_references": []map[string]any{{"source_name": "postwatch", "external_id": actorID}},
		"x_postwatch_kind":    string(a.Kind)}
	if len(a.Aliases) > 0 {
		o["aliases"] = a.Aliases
	}
	common.Type, common.ID = "relationship", b.ids.id("relationship", "relationship:persona:"+actorID)
	rel := stixRelationship{stixCommon: common, RelationshipType: "attributed-to", SourceRef: ref, TargetRef: identity}
	if err := b.object(o); err != nil {
		return "", err
	}
	return ref, b.object(&rel)
}

// stixRelation is how a postwatch relation "subject kind target" is written
// between the STIX types of its actors: a relationship type that STIX 2.1
// defines for them (threat-actor attributed-to identity: the identity
// behind it) or that OpenCTI imports between them (part-of and
// cooperates-with between threat actors, part-of from a person), with
// reversed set when the STIX source is postwatch's target; related-to, STIX's
// relationship between any two objects, where neither has a term. Each
// keeps postwatch's kind in x_postwatch_kind and its description.
func stixRelation(kind domain.RelationKind, subject, target domain.ActorKind) (typ string, reversed bool) {
	subjectType, targetType := stixActorType(subject), stixActorType(target)
	switch {
	case kind.Attributes() && subjectType == "identity" && targetType == "threat-actor":
		// The target acts for the subject that controls, directs,
		// sponsors, facilitates or leads it.
		return "attributed-to", true
	case kind == "controls" && subjectType == "threat-actor" && targetType == "threat-actor":
		// What a group controls is part of its structure.
		return "part-of", true
	case kind.Attributes() && subjectType == "threat-actor" && targetType == "threat-actor",
		kind == "allied_with" && subjectType == "threat-actor" && targetType == "threat-actor":
		return "cooperates-with", false
	case kind == "member_of" && subjectType == "threat-actor" && targetType == "threat-actor":
		return "part-of", false
	case (kind == "member_of" || kind == "leads") && subject == "person" && targetType == "identity":
		// OpenCTI takes part-of between identities only from a person.
		return "part-of", false
	}
	return "related-to", false
}

// close writes the relations among the named actors and ends the bundle,
// each typed by stixRelation.
func (b *stixBundle) close(ctx context.Context) error {
	for _, subject := range b.order {
		a := b.named[subject]
		if a == nil {
			continue
		}
		rels, err := b.s.actors.FindRelations(ctx, subject)
		if err != nil && domain.ErrorCodeOf(err) != domain.ENOTFOUND {
			return err
		}
		for _, r := range rels {
			t, ok := b.named[r.TargetID]
			if !ok || t == nil {
				continue
			}
			created := a.CreatedAt.UTC().Format(stixTime)
			subjectType, targetType := stixActorType(a.Kind), stixActorType(t.Kind)
			typ, reversed := stixRelation(r.Kind, a.Kind, t.Kind)
			from, to := b.ids.id(subjectType, "actor:"+subject), b.ids.id(targetType, "actor:"+r.TargetID)
			if reversed {
				from, to = to, from
			}
			description := subject + " " + string(r.Kind) + " " + r.TargetID
			if r.Source != "" {
				description += ". Source: " + r.Source
			}
			o := stixRelationship{
				stixCommon: stixCommon{Type: "relationship", SpecVersion: "2.1", Created: created, Modified: created,
					// The type is in the name: a relation written another
					// way is another relationship, not a new version of one.
					ID: b.ids.id("relationship", "relationship:relation:"+strconv.FormatInt(r.ID, 10)+":"+typ)},
				RelationshipType: typ, Description: description, SourceRef: from, TargetRef: to, Kind: string(r.Kind),
			}
			if r.ValidFrom != nil {
				o.StartTime = r.ValidFrom.UTC().Format(stixTime)
			}
			// STIX requires stop_time later than start_time.
			if r.ValidTo != nil && (r.ValidFrom == nil || r.ValidTo.After(*r.ValidFrom)) {
				o.StopTime = r.ValidTo.UTC().Format(stixTime)
			}
			if err := b.object(&o); err != nil {
				return err
			}
		}
	}
	if b.n > 0 {
		b.w.WriteByte(']')
	}
	b.w.WriteString("}\n")
	return b.w.Flush()
}

// writeSTIX answers with one bundle of incident features: a page, or one.
func (s *Server) writeSTIX(c *gin.Context, fs []feature) {
	ctx := c.Request.Context()
	b, err := s.newSTIXBundle(ctx)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Content-Type", stixContentType)
	c.Status(http.StatusOK)
	b.start(c.Writer)
	if err = b.incidents(ctx, fs); err == nil {
		err = b.close(ctx)
	}
	if err != nil {
		s.abortStream(c, err)
	}
}

// abortStream ends a response whose body has begun when producing the rest
// fails: the connection is cut (net/http's ErrAbortHandler), so the client
// sees a broken transfer rather than a complete-looking, truncated file.
func (s *Server) abortStream(c *gin.Context, err error) {
	if c.Request.Context().Err() != nil {
		s.log.Info("stream ended by its client or deadline", "path", c.Request.URL.Path, "err", err)
	} else {
		s.log.Error("stream failed after its first byte", "path", c.Request.URL.Path, "err", err)
	}
	panic(http.ErrAbortHandler)
}
