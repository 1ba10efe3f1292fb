package domain

import "time"

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
