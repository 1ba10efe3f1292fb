package api

import (
	"container/list"
	"context"
	"fmt"
	"maps"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/postwatch/postwatch/domain"
)

// DefaultTileCacheBytes is the tile cache's budget when Options leave it
// at 0: tiles take a few KB to 100 KB each (a third of that gzipped), a
// map session a few MB, and the 1,518 distinct z12 tiles of the load
// test's 5,000 URLs 41 MB.
const DefaultTileCacheBytes = 64 << 20

// tileEntryOverhead is what an entry costs beyond its key and body: the
// entry, its list element and its share of the map, rounded up.
const tileEntryOverhead = 256

// encodedTile is a tile as sent: the body (nil for a 204), gzipped when
// gzip is set, and the strong ETag of those bytes. It is shared by every
// request that gets it and never modified.
type encodedTile struct {
	body []byte
	gzip bool
	etag string
}

// tileEntry is a cached tile and the data version it was made at.
type tileEntry struct {
	key     string
	version domain.DataVersion
	tile    *encodedTile
	size    int64
}

// tileCache keeps encoded tiles, least recently used first out, within a
// byte budget. An entry is served only while the store's DataVersion is
// the one read before the tile was made, so a tile is never older than a
// write committed before the request began, whichever process wrote it.
// Concurrent misses of one tile at one version make it once.
type tileCache struct {
	versions domain.DataVersioner
	budget   int64
	flight   singleflight.Group

	mu    sync.Mutex
	used  int64
	lru   list.List // of *tileEntry, most recently used at the front
	byKey map[string]*list.Element
	// facilities are every live facility at facilitiesAt, by id: tiles
	// take their facilities layer from it instead of two queries each.
	facilities   []domain.FacilityHit
	facilitiesAt *domain.DataVersion
}

func newTileCache(versions domain.DataVersioner, budget int64) *tileCache {
	return &tileCache{versions: versions, budget: budget, byKey: map[string]*list.Element{}}
}

// tileKey is the canonical form of a tile request: the tile, every query
// parameter but access_token (each declared parameter of the route may
// change the tile; url.Values.Encode sorts them by name) and the encoding.
func tileKey(z, x, y int, q url.Values, gzip bool) string {
	key := strconv.Itoa(z) + "/" + strconv.Itoa(x) + "/" + strconv.Itoa(y)
	if gzip {
		key += ".gz"
	}
	if q.Has("access_token") {
		q = maps.Clone(q)
		q.Del("access_token")
	}
	if len(q) > 0 {
		key += "?" + q.Encode()
	}
	return key
}

// get returns the tile of key at the store's current version: from the
// cache, or made by build at that version, once for all concurrent callers
// asking for that key at that version. build runs detached from the
// cancellation of the caller that happens to start it (others may still
// want its tile) but within its deadline.
func (tc *tileCache) get(ctx context.Context, key string, build func(context.Context, domain.DataVersion) (*encodedTile, error)) (*encodedTile, error) {
	v, err := tc.versions.DataVersion(ctx)
	if err != nil {
		return nil, err
	}
	if t := tc.lookup(key, v); t != nil {
		return t, nil
	}
	flightKey := fmt.Sprintf("%d.%d %s", v.Change, v.Due, key)
	return shared(ctx, &tc.flight, flightKey, func(ctx context.Context) (*encodedTile, error) {
		t, err := build(ctx, v)
		if err != nil {
			return nil, err
		}
		tc.put(key, v, t)
		return t, nil
	})
}

// facilitiesOf returns every live facility at version v, by id, loaded by
// load once per version for all concurrent callers.
func (tc *tileCache) facilitiesOf(ctx context.Context, v domain.DataVersion, load func(context.Context) ([]domain.FacilityHit, error)) ([]domain.FacilityHit, error) {
	tc.mu.Lock()
	if tc.facilitiesAt != nil && *tc.facilitiesAt == v {
		defer tc.mu.Unlock()
		return tc.facilities, nil
	}
	tc.mu.Unlock()
	key := fmt.Sprintf("%d.%d facilities", v.Change, v.Due)
	got, err := shared(ctx, &tc.flight, key, func(ctx context.Context) (*[]domain.FacilityHit, error) {
		facs, err := load(ctx)
		if err != nil {
			return nil, err
		}
		tc.mu.Lock()
		tc.facilities, tc.facilitiesAt = facs, &v
		tc.mu.Unlock()
		return &facs, nil
	})
	if err != nil {
		return nil, err
	}
	return *got, nil
}

// shared runs fn once for all concurrent callers of one key and hands each
// its result. fn runs detached from the cancellation of the caller that
// happens to start it, as others may still want its result, but within
// that caller's deadline; a caller that gives up stops waiting.
func shared[T any](ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (*T, error)) (*T, error) {
	ch := g.DoChan(key, func() (res any, err error) {
		// singleflight re-panics a DoChan panic where nothing can recover
		// it; as an error it reaches the one error writer instead.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%s: panic: %v\n%s", key, p, debug.Stack())
			}
		}()
		mctx := context.WithoutCancel(ctx)
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			mctx, cancel = context.WithDeadline(mctx, d)
			defer cancel()
		}
		return fn(mctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*T), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lookup returns the cached tile of key made at version v, or nil. An
// entry of another version can never be served again: it is dropped.
func (tc *tileCache) lookup(key string, v domain.DataVersion) *encodedTile {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	el, ok := tc.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*tileEntry)
	if e.version != v {
		tc.remove(el)
		return nil
	}
	tc.lru.MoveToFront(el)
	return e.tile
}

// put stores t as key's tile at version v, evicting the least recently
// used entries beyond the budget. A tile larger than the whole budget is
// not kept.
func (tc *tileCache) put(key string, v domain.DataVersion, t *encodedTile) {
	size := int64(len(key)+len(t.body)+len(t.etag)) + tileEntryOverhead
	if size > tc.budget {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if el, ok := tc.byKey[key]; ok {
		tc.remove(el)
	}
	for tc.used+size > tc.budget {
		tc.remove(tc.lru.Back())
	}
	tc.byKey[key] = tc.lru.PushFront(&tileEntry{key: key, version: v, tile: t, size: size})
	tc.used += size
}

// remove drops an entry; tc.mu is held.
func (tc *tileCache) remove(el *list.Element) {
	e := tc.lru.Remove(el).(*tileEntry)
	delete(tc.byKey, e.key)
	tc.used -= e.size
}
