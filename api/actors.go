package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
)

// actorIn is the writable part of an actor; server-set fields are ignored.
type actorIn struct {
	ID          *string         `json:"id"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Aliases     []string        `json:"aliases"`
	Country     string          `json:"country"`
	Description string          `json:"description"`
	CreatedAt   json.RawMessage `json:"created_at"`
	UpdatedAt   json.RawMessage `json:"updated_at"`
	Version     json.RawMessage `json:"version"`
	Links       json.RawMessage `json:"links"`
}

func decodeActor(body []byte) (*domain.Actor, error) {
	var in actorIn
	if err := decodeStrict(body, &in, ""); err != nil {
		return nil, err
	}
	a := &domain.Actor{Name: in.Name, Kind: domain.ActorKind(in.Kind), Aliases: in.Aliases,
		Country: in.Country, Description: in.Description}
	if in.ID != nil {
		a.ID = *in.ID
	}
	return a, nil
}

func (s *Server) writeActor(c *gin.Context, status int, a *domain.Actor) {
	if notModified(c, etag(a.Version)) {
		return
	}
	c.Header("ETag", etag(a.Version))
	c.JSON(status, a)
}

func (s *Server) listActors(c *gin.Context) {
	q := c.Request.URL.Query()
	page, err := ParsePage(q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := domain.ActorFilter{Text: q.Get("q"), Page: page}
	if v, ok := lookup(q, "kind"); ok {
		if f.Kind, err = domain.ParseEnumList("kind", v, domain.ActorKinds); err != nil {
			s.writeError(c, err)
			return
		}
	}
	actors, total, err := s.actors.FindActors(c.Request.Context(), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	self := selfURL(c)
	links := []link{{Href: self, Rel: "self", Type: "application/json"}}
	if page.Offset+len(actors) < total {
		links = append(links, link{Href: withParam(self, "offset", strconv.Itoa(page.Offset+len(actors))), Rel: "next", Type: "application/json"})
	}
	c.JSON(http.StatusOK, gin.H{"actors": actors, "numberMatched": total, "numberReturned": len(actors), "links": links})
}

func (s *Server) createActor(c *gin.Context) {
	body, err := readBody(c, "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	a, err := decodeActor(body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if a.ID == "" {
		a.ID = domain.Slug(a.Name)
	}
	if a.ID == "" && strings.IndexFunc(a.Name, unicode.IsLetter) >= 0 {
		// A name in a script the slug keeps nothing of (Arabic, Persian…).
		var b [6]byte
		rand.Read(b[:])
		a.ID = "actor-" + hex.EncodeToString(b[:])
	}
	if err := s.actors.CreateActor(c.Request.Context(), a); err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", baseURL(c)+"/actors/"+a.ID)
	s.writeActor(c, http.StatusCreated, a)
}

func (s *Server) getActor(c *gin.Context) {
	a, err := s.actors.FindActorByID(c.Request.Context(), c.Param("actorId"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeActor(c, http.StatusOK, a)
}

// actorVersion returns a function reading the actor's current version,
// for ifMatch.
func (s *Server) actorVersion(c *gin.Context) func() (int, error) {
	return func() (int, error) {
		a, err := s.actors.FindActorByID(c.Request.Context(), c.Param("actorId"))
		if err != nil {
			return 0, err
		}
		return a.Version, nil
	}
}

func (s *Server) replaceActor(c *gin.Context) {
	want, err := ifMatch(c, s.actorVersion(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	body, err := readBody(c, "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	a, err := decodeActorAt(c.Param("actorId"), body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.actors.ReplaceActor(c.Request.Context(), c.Param("actorId"), a, want); err != nil {
		s.writeError(c, err)
		return
	}
	s.writeActor(c, http.StatusOK, a)
}

// decodeActorAt decodes the body of a write to the actor id; an id in the
// body must name the same actor.
func decodeActorAt(id string, body []byte) (*domain.Actor, error) {
	a, err := decodeActor(body)
	if err != nil {
		return nil, err
	}
	if a.ID != "" && a.ID != id {
		return nil, domain.InvalidField("id", "%q differs from the actor in the path; ids cannot change", a.ID)
	}
	return a, nil
}

// patchActor applies an RFC 7396 merge patch. Without If-Match it retries
// when another write slipped in between the read and the write, so no
// concurrent change is overwritten.
func (s *Server) patchActor(c *gin.Context) {
	want, err := ifMatch(c, s.actorVersion(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	body, err := readBody(c, "application/merge-patch+json", "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx, id := c.Request.Context(), c.Param("actorId")
	for attempt := 0; ; attempt++ {
		cur, err := s.actors.FindActorByID(ctx, id)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if want != 0 && want != cur.Version {
			s.writeError(c, domain.Errorf(domain.EPRECONDITION, "the actor is at version %d, not %d", cur.Version, want))
			return
		}
		curJSON, err := json.Marshal(cur)
		if err != nil {
			s.writeError(c, err)
			return
		}
		merged, err := mergePatch(curJSON, body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		a, err := decodeActorAt(id, merged)
		if err != nil {
			s.writeError(c, err)
			return
		}
		err = s.actors.ReplaceActor(ctx, id, a, cur.Version)
		if retryPatch(err, want, attempt) {
			continue
		}
		if err != nil {
			s.writeError(c, patchError(err, want))
			return
		}
		s.writeActor(c, http.StatusOK, a)
		return
	}
}

func (s *Server) deleteActor(c *gin.Context) {
	want, err := ifMatch(c, s.actorVersion(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.actors.DeleteActor(c.Request.Context(), c.Param("actorId"), want); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) actorHistory(c *gin.Context) {
	vs, err := s.actors.ActorHistory(c.Request.Context(), c.Param("actorId"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeVersions(c, "actor", vs)
}

type relationIn struct {
	Kind      string  `json:"kind"`
	TargetID  string  `json:"target_id"`
	ValidFrom *string `json:"valid_from"`
	ValidTo   *string `json:"valid_to"`
	Source    string  `json:"source"`
}

func (s *Server) listRelations(c *gin.Context) {
	rels, err := s.actors.FindRelations(c.Request.Context(), c.Param("actorId"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"relations": rels})
}

func (s *Server) createRelation(c *gin.Context) {
	body, err := readBody(c, "application/json")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var in relationIn
	if err := decodeStrict(body, &in, ""); err != nil {
		s.writeError(c, err)
		return
	}
	r := &domain.Relation{SubjectID: c.Param("actorId"), Kind: domain.RelationKind(in.Kind), TargetID: in.TargetID, Source: in.Source}
	for _, bound := range []struct {
		field string
		in    *string
		out   **time.Time
	}{{"valid_from", in.ValidFrom, &r.ValidFrom}, {"valid_to", in.ValidTo, &r.ValidTo}} {
		if bound.in != nil {
			t, err := parseTime(bound.field, *bound.in)
			if err != nil {
				s.writeError(c, err)
				return
			}
			*bound.out = &t
		}
	}
	if err := s.actors.CreateRelation(c.Request.Context(), r); err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", baseURL(c)+"/actors/"+r.SubjectID+"/relations")
	c.JSON(http.StatusCreated, r)
}

// deleteRelations removes the actor's relations of a kind to a target,
// named by the kind and target_id query parameters.
func (s *Server) deleteRelations(c *gin.Context) {
	q := c.Request.URL.Query()
	kinds, err := domain.ParseEnumList("kind", q.Get("kind"), domain.RelationKinds)
	if err != nil || len(kinds) != 1 {
		s.writeError(c, domain.InvalidField("kind", "one relation kind is required"))
		return
	}
	target := q.Get("target_id")
	if target == "" {
		s.writeError(c, domain.InvalidField("target_id", "is required"))
		return
	}
	if err := s.actors.DeleteRelations(c.Request.Context(), c.Param("actorId"), kinds[0], target); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) deleteRelation(c *gin.Context) {
	id, ok := parseID(c.Param("relationId"))
	if !ok {
		s.writeError(c, domain.Errorf(domain.ENOTFOUND, "no relation %q", c.Param("relationId")))
		return
	}
	if err := s.actors.DeleteRelation(c.Request.Context(), c.Param("actorId"), id); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// relationHistory answers the audit trail of an actor's relations, which
// chain attribution rests on: every creation and deletion, oldest first,
// with who made it.
func (s *Server) relationHistory(c *gin.Context) {
	vs, err := s.actors.RelationHistory(c.Request.Context(), c.Param("actorId"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeVersions(c, "relation", vs)
}

// writeVersions answers a record's history as
// {"versions": [{"version", "op", "changed_at", "changed_by", <name>: the record}]},
// oldest first: the shape of every history route that is not an OGC item's.
func writeVersions[T any](c *gin.Context, name string, vs []domain.Version[T]) {
	out := make([]gin.H, len(vs))
	for i, v := range vs {
		out[i] = gin.H{"version": v.Version, "op": v.Op, "changed_at": v.ChangedAt, "changed_by": v.ChangedBy, name: v.Record}
	}
	c.JSON(http.StatusOK, gin.H{"versions": out})
}
