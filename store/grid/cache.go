package grid

import (
	"container/list"
	"context"
	"sync"

	"github.com/postwatch/postwatch/domain"
)

// DefaultCacheBytes bounds the grid's cache of decoded incidents, about
// 130,000 typical ones (serve --incident-cache sets it). Dashboards ask for
// the newest incidents of a place again and again: a region-wide page of
// 1,000 reads the same rows every time, which from the database cost a
// random page read and a decode each (on PostgreSQL a round trip too).
// The load test's q1 pages, the newest 100 of boxes around 25 cities,
// fit in 128 MiB and not in 64: q1 1,930 req/s at 64 MiB, 3,750 at 128
// (docs/performance.md); RSS grows by about twice the budget once full.
const DefaultCacheBytes = 128 << 20

// Cache keeps recently read incidents by id, least recently used
// out first, within a budget of bytes (an incident's text can run to a
// megabyte). It lives beside the grid because the grid's change feed keeps
// it true: catching up evicts every incident the new history rows name.
// An incident read from the database may be stored only if no catch-up ran
// since its query began (Incidents checks the grid's version), so an old
// version read before a change can never land after the eviction of that
// change.
type Cache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	items    map[int64]*list.Element // of cachedIncident
	lru      list.List
}

type cachedIncident struct {
	inc  *domain.Incident
	size int
}

// NewCache returns an empty cache of at most maxBytes; 0 or less keeps
// nothing.
func NewCache(maxBytes int) *Cache {
	return &Cache{maxBytes: maxBytes, items: map[int64]*list.Element{}}
}

// incidentSize estimates the memory an incident holds: its text, lists and
// a fixed share for the struct and the cache's bookkeeping.
func incidentSize(inc *domain.Incident) int {
	n := 640 + len(inc.Title) + len(inc.Description)
	for _, a := range inc.Actors {
		n += 48 + len(a.ActorID) + len(a.Role)
	}
	for _, src := range inc.Sources {
		n += 64 + len(src.URL) + len(src.Title)
	}
	for _, t := range inc.Tags {
		n += 16 + len(t)
	}
	for k, v := range inc.Original {
		n += 64 + len(k) + len(v)
	}
	if inc.ExternalID != nil {
		n += 16 + len(*inc.ExternalID)
	}
	return n
}

// Get appends to out the cached incidents of ids (nil where missing).
func (c *Cache) Get(ids []int64, out []*domain.Incident) []*domain.Incident {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		var inc *domain.Incident
		if e, ok := c.items[id]; ok {
			c.lru.MoveToFront(e)
			inc = e.Value.(cachedIncident).inc
		}
		out = append(out, inc)
	}
	return out
}

// Put stores incidents read from the database; Incidents says when that
// is safe.
func (c *Cache) Put(incs []*domain.Incident) {
	if c.maxBytes <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, inc := range incs {
		size := incidentSize(inc)
		if size > c.maxBytes/64 {
			continue // one huge incident must not flush the rest
		}
		c.remove(inc.ID)
		c.items[inc.ID] = c.lru.PushFront(cachedIncident{inc, size})
		c.bytes += size
		for c.bytes > c.maxBytes {
			c.remove(c.lru.Back().Value.(cachedIncident).inc.ID)
		}
	}
}

// Evict forgets an incident, for a catch-up that saw it change.
func (c *Cache) Evict(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
}

func (c *Cache) remove(id int64) {
	if e, ok := c.items[id]; ok {
		delete(c.items, id)
		c.bytes -= e.Value.(cachedIncident).size
		c.lru.Remove(e)
	}
}

// Incidents returns the live incidents of ids in that order, skipping any
// deleted meanwhile, from the cache where it holds them and through read
// for the rest (read returns the live incidents among the ids it is given,
// in any order). version is g's Version when the ids were chosen.
func (c *Cache) Incidents(ctx context.Context, g *Grid, version int64, ids []int64,
	read func(ctx context.Context, ids []int64) ([]*domain.Incident, error)) ([]*domain.Incident, error) {
	out := c.Get(ids, make([]*domain.Incident, 0, len(ids)))
	var missing []int64
	for i, inc := range out {
		if inc == nil {
			missing = append(missing, ids[i])
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := read(ctx, missing)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*domain.Incident, len(got))
	for _, inc := range got {
		byID[inc.ID] = inc
	}
	for i, inc := range out {
		if inc == nil {
			out[i] = byID[ids[i]] // nil if deleted since the grid was read
		}
	}
	g.RLock()
	if g.Version() == version {
		c.Put(got)
	}
	g.RUnlock()
	kept := out[:0]
	for _, inc := range out {
		if inc != nil {
			kept = append(kept, inc)
		}
	}
	return kept, nil
}
