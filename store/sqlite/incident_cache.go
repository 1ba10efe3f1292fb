package sqlite

import (
	"container/list"
	"context"
	"sync"

	"github.com/postwatch/postwatch/domain"
)

// DefaultIncidentCacheBytes bounds the grid's cache of decoded incidents,
// about 10,000 typical ones. Dashboards ask for the newest incidents of a
// place again and again: a region-wide page of 1,000 reads the same rows
// every time, which from SQLite cost a random page read and a decode each.
const DefaultIncidentCacheBytes = 12 << 20

// incidentCache keeps recently read incidents by id, least recently used
// out first, within a budget of bytes (an incident's text can run to a
// megabyte). It lives beside the grid because the grid's change feed keeps
// it true: catching up evicts every incident the new history rows name.
// An incident read from the database may be stored only if no catch-up ran
// since its query began (incidentsByID checks the grid's applied history
// id), so an old version read before a change can never land after the
// eviction of that change.
type incidentCache struct {
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

func newIncidentCache(maxBytes int) *incidentCache {
	return &incidentCache{maxBytes: maxBytes, items: map[int64]*list.Element{}}
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

// get returns the cached incidents of ids (nil where missing).
func (c *incidentCache) get(ids []int64, out []*domain.Incident) []*domain.Incident {
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

func (c *incidentCache) put(incs []*domain.Incident) {
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

func (c *incidentCache) evict(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
}

func (c *incidentCache) remove(id int64) {
	if e, ok := c.items[id]; ok {
		delete(c.items, id)
		c.bytes -= e.Value.(cachedIncident).size
		c.lru.Remove(e)
	}
}

// incidentsByID returns the live incidents of ids in that order, skipping
// any deleted meanwhile, from the cache where it holds them and from the
// database for the rest. applied is the grid's history id when the ids
// were chosen.
func (s *Store) incidentsByID(ctx context.Context, g *grid, applied int64, ids []int64) ([]*domain.Incident, error) {
	cache := s.grid.cache
	out := cache.get(ids, make([]*domain.Incident, 0, len(ids)))
	var missing []int64
	for i, inc := range out {
		if inc == nil {
			missing = append(missing, ids[i])
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	read, err := s.readIncidents(ctx, missing)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*domain.Incident, len(read))
	for _, inc := range read {
		byID[inc.ID] = inc
	}
	for i, inc := range out {
		if inc == nil {
			out[i] = byID[ids[i]] // nil if deleted since the grid was read
		}
	}
	g.mu.RLock()
	if g.applied == applied {
		cache.put(read)
	}
	g.mu.RUnlock()
	kept := out[:0]
	for _, inc := range out {
		if inc != nil {
			kept = append(kept, inc)
		}
	}
	return kept, nil
}

// readIncidents reads the live incidents among ids, in id order.
func (s *Store) readIncidents(ctx context.Context, ids []int64) ([]*domain.Incident, error) {
	rows, err := s.queryByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanIncidents(rows, len(ids))
}
