package domain

import (
	"context"
	"slices"
	"time"
)

// Window is a half-open time interval [From, To); nil ends are unbounded.
type Window struct {
	From *time.Time
	To   *time.Time
}

// Contains reports whether t lies in the window.
func (w Window) Contains(t time.Time) bool {
	return (w.From == nil || !t.Before(*w.From)) && (w.To == nil || t.Before(*w.To))
}

func (w Window) intersect(o Window) (Window, bool) {
	out := w
	if o.From != nil && (out.From == nil || o.From.After(*out.From)) {
		out.From = o.From
	}
	if o.To != nil && (out.To == nil || o.To.Before(*out.To)) {
		out.To = o.To
	}
	return out, out.From == nil || out.To == nil || out.From.Before(*out.To)
}

func (w Window) covers(o Window) bool {
	fromOK := w.From == nil || (o.From != nil && !o.From.Before(*w.From))
	toOK := w.To == nil || (o.To != nil && !o.To.After(*w.To))
	return fromOK && toOK
}

// AttributionRoles are the incident roles through which an incident is
// attributed to the actors behind an actor; being the target of an attack
// attributes nothing to one's sponsors.
var AttributionRoles = []ActorRole{"perpetrator", "suspected", "claimant"}

// AttributionWindows answers "whom is an incident attributed to through a
// chain": for each actor that roots control, direct, facilitate, sponsor or
// lead — transitively — it returns the windows of time in which the whole
// chain of relations held. An incident of such an actor is attributed to the
// roots when its occurred_at falls in one of the actor's windows. The roots
// themselves map to a single unbounded window. member_of and allied_with are
// never followed.
func AttributionWindows(roots []string, rels []Relation) map[string][]Window {
	out := map[string][]Window{}
	type item struct {
		actor string
		w     Window
	}
	var queue []item
	for _, r := range roots {
		if _, ok := out[r]; !ok {
			out[r] = []Window{{}}
			queue = append(queue, item{r, Window{}})
		}
	}
	bySubject := map[string][]Relation{}
	for _, r := range rels {
		if r.Kind.Attributes() {
			bySubject[r.SubjectID] = append(bySubject[r.SubjectID], r)
		}
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for _, r := range bySubject[it.actor] {
			w, ok := it.w.intersect(Window{From: r.ValidFrom, To: r.ValidTo})
			if !ok || coveredBy(out[r.TargetID], w) {
				continue
			}
			out[r.TargetID] = append(out[r.TargetID], w)
			queue = append(queue, item{r.TargetID, w})
		}
	}
	return out
}

func coveredBy(ws []Window, w Window) bool {
	for _, o := range ws {
		if o.covers(w) {
			return true
		}
	}
	return false
}

// Chain says why an incident is attributed to an actor: Path runs from the
// actor asked for (Path[0], also ActorID) to an actor the incident names in
// an attribution role (the last element), and Relations[i] is the kind of
// the relation from Path[i] to Path[i+1], each valid at the incident's
// occurred_at. A direct match is a path of one actor and no relations
// (CONTRACT.md §10, "Chain attribution shown").
type Chain struct {
	ActorID   string         `json:"actor_id"`
	Path      []string       `json:"path"`
	Relations []RelationKind `json:"relations"`
}

// RelationsOf returns the relations whose subject is an actor, as
// ActorService.FindRelations does.
type RelationsOf func(ctx context.Context, actorID string) ([]Relation, error)

// ChainFinder finds the shortest chains of many incidents of one request,
// loading each actor's relations at most once: the work grows with the part
// of the graph the chains walk, and never turns into a query whose size
// grows with the graph.
type ChainFinder struct {
	roots []string
	roles []ActorRole
	load  RelationsOf
	// out holds the attributing relations by subject, loaded on first use.
	out map[string][]Relation
}

// NewChainFinder finds chains from roots (in order of preference when two
// chains are equally short) to actors an incident names in one of roles.
func NewChainFinder(roots []string, roles []ActorRole, load RelationsOf) *ChainFinder {
	return &ChainFinder{roots: roots, roles: roles, load: load, out: map[string][]Relation{}}
}

func (f *ChainFinder) relations(ctx context.Context, actor string) ([]Relation, error) {
	if rs, ok := f.out[actor]; ok {
		return rs, nil
	}
	all, err := f.load(ctx, actor)
	if ErrorCodeOf(err) == ENOTFOUND {
		// An actor= naming no stored actor has no relations to follow.
		all, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	rs := make([]Relation, 0, len(all))
	for _, r := range all {
		if r.Kind.Attributes() {
			rs = append(rs, r)
		}
	}
	f.out[actor] = rs
	return rs, nil
}

// Shortest returns the shortest chain valid at inc.OccurredAt from one of
// the roots to an actor inc names in one of the roles, or nil when there is
// none. It is a breadth-first search from all roots at once, so the chain
// has the fewest relations; among equally short chains the earlier root and
// then the earlier-stored relation win, which keeps answers stable.
func (f *ChainFinder) Shortest(ctx context.Context, inc *Incident) (*Chain, error) {
	named := map[string]bool{}
	for _, a := range inc.Actors {
		if slices.Contains(f.roles, a.Role) {
			named[a.ActorID] = true
		}
	}
	if len(named) == 0 {
		return nil, nil
	}
	type step struct {
		from string
		kind RelationKind
	}
	prev := map[string]step{}
	var frontier []string
	for _, r := range f.roots {
		if _, seen := prev[r]; !seen {
			prev[r] = step{}
			frontier = append(frontier, r)
		}
	}
	for len(frontier) > 0 {
		var next []string
		for _, actor := range frontier {
			if named[actor] {
				return chainTo(actor, func(a string) (string, RelationKind) {
					s := prev[a]
					return s.from, s.kind
				}), nil
			}
			rs, err := f.relations(ctx, actor)
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				if _, seen := prev[r.TargetID]; seen || !r.ValidAt(inc.OccurredAt) {
					continue
				}
				prev[r.TargetID] = step{actor, r.Kind}
				next = append(next, r.TargetID)
			}
		}
		frontier = next
	}
	return nil, nil
}

// chainTo walks back from the matched actor to its root.
func chainTo(actor string, back func(string) (string, RelationKind)) *Chain {
	path := []string{actor}
	rels := []RelationKind{}
	for {
		from, kind := back(actor)
		if from == "" {
			break
		}
		path = append(path, from)
		rels = append(rels, kind)
		actor = from
	}
	slices.Reverse(path)
	slices.Reverse(rels)
	return &Chain{ActorID: path[0], Path: path, Relations: rels}
}

// ChainRoles are the incident roles an actor= with the given actor_role=
// list matches under chain attribution: the requested roles that attribute
// responsibility, or all of AttributionRoles when none were requested.
func ChainRoles(requested []ActorRole) []ActorRole {
	if len(requested) == 0 {
		return AttributionRoles
	}
	var out []ActorRole
	for _, r := range requested {
		if slices.Contains(AttributionRoles, r) {
			out = append(out, r)
		}
	}
	return out
}
