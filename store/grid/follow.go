package grid

import (
	"context"
	"sync"
)

// Feed is what an engine supplies to keep a grid true: a build from its
// incidents and a change feed over its history table. P is a position in
// that feed (SQLite: the last history id; PostgreSQL: a snapshot), which
// only the feed interprets.
type Feed[P any] interface {
	// Build fills g with every live incident (Add, SetMeta for metas read
	// apart, AddActorLists; the grid is not shared yet) and returns the
	// position g then reflects, all from one snapshot of the database.
	Build(ctx context.Context, g *Grid) (P, error)
	// Behind reports whether any write has committed since pos. It runs
	// for every round of the queries the grid answers (Current), so it
	// must cost one cheap statement; it may say true when nothing of the
	// grid's changed.
	Behind(ctx context.Context, pos P) (bool, error)
	// Changes returns, for every incident a write committed since pos has
	// touched, its state now (Gone when no longer live), and the position
	// that state is current to, both from one snapshot. An incident may
	// come again in a later call: applying a state twice is harmless.
	Changes(ctx context.Context, pos P) ([]Change, P, error)
}

// Follower holds a grid and its cache and keeps them current through a
// Feed: before a query, Current asks the feed whether the grid is behind
// and, if it is, applies the changes, so a query sees every write
// committed before it began, whichever process made it.
type Follower[P any] struct {
	feed   Feed[P]
	cache  *Cache
	ready  chan struct{}
	grid   *Grid // set once ready is closed
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex // serialises catch-ups; guards pos
	pos P

	// Concurrent queries share their freshness checks (see Current): a
	// round is one check, and the catch-up it calls for, made for every
	// query that joined it before it began.
	rounds  sync.Mutex    // guards joining
	joining *round        // the round queries join now; nil when none
	turn    chan struct{} // held by the round under way, one at a time
}

// round is one check shared by the queries that joined it; err and
// expired (its leader's deadline passed) are set before done is closed.
type round struct {
	done    chan struct{}
	err     error
	expired bool
}

// Follow starts building a grid from feed, with a cache of cacheBytes
// (see NewCache). With background false the build is done when Follow
// returns, with its error; otherwise it runs on, and Current answers nil
// until it is done, so queries take the engine's other path meanwhile (a
// failed background build leaves it so: correct, only slower).
func Follow[P any](feed Feed[P], cacheBytes int, background bool) (*Follower[P], error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower[P]{feed: feed, cache: NewCache(cacheBytes), ready: make(chan struct{}), cancel: cancel,
		done: make(chan struct{}), turn: make(chan struct{}, 1)}
	if !background {
		defer close(f.done)
		return f, f.build(ctx)
	}
	go func() {
		defer close(f.done)
		_ = f.build(ctx)
	}()
	return f, nil
}

func (f *Follower[P]) build(ctx context.Context) error {
	g := New()
	pos, err := f.feed.Build(ctx, g)
	if err != nil {
		return err
	}
	g.Compact()
	f.pos, f.grid = pos, g
	close(f.ready)
	return nil
}

// Stop ends a build in progress; the grid, if built, stays readable.
func (f *Follower[P]) Stop() {
	f.cancel()
	<-f.done
}

// Ready is closed once the grid answers queries.
func (f *Follower[P]) Ready() <-chan struct{} { return f.ready }

// Built returns the grid as of its last catch-up, without asking the feed
// whether it is behind; nil until it is built.
func (f *Follower[P]) Built() *Grid {
	select {
	case <-f.ready:
		return f.grid
	default:
		return nil
	}
}

// Cache is the cache of decoded incidents the follower keeps true.
func (f *Follower[P]) Cache() *Cache { return f.cache }

// Current returns the grid brought up to date with every write committed
// before the call, or nil while it is being built.
//
// Queries that arrive while a check is under way cannot use it (it may
// have read the database before their writer committed), so they join the
// next round, which begins once that one ends: under load one statement
// checks for many queries, instead of one statement each, at the price of
// waiting for at most the round under way, and never past the query's
// deadline.
func (f *Follower[P]) Current(ctx context.Context) (*Grid, error) {
	select {
	case <-f.ready:
	default:
		return nil, nil
	}
	for {
		f.rounds.Lock()
		r, lead := f.joining, false
		if r == nil {
			r, lead = &round{done: make(chan struct{})}, true
			f.joining = r
		}
		f.rounds.Unlock()
		if lead {
			// The others count on the round: it goes on if its leader's
			// client hangs up, but not past the leader's deadline, so a
			// database that does not answer holds no query past its own.
			rctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
			if d, ok := ctx.Deadline(); ok {
				rctx, cancel = context.WithDeadline(rctx, d)
			}
			f.run(rctx, r)
			cancel()
			return f.result(r)
		}
		select {
		case <-r.done:
			if r.expired && ctx.Err() == nil {
				continue // its leader's time ran out, not ours
			}
			return f.result(r)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (f *Follower[P]) result(r *round) (*Grid, error) {
	if r.err != nil {
		return nil, r.err
	}
	return f.grid, nil
}

// run makes round r once the round before it has ended: it closes r to
// newcomers, then checks and, if the grid is behind, catches up.
func (f *Follower[P]) run(ctx context.Context, r *round) {
	defer close(r.done)
	select {
	case f.turn <- struct{}{}:
	case <-ctx.Done():
		// Given up before it began: queries yet to come must not join it.
		f.rounds.Lock()
		if f.joining == r {
			f.joining = nil
		}
		f.rounds.Unlock()
		r.err, r.expired = ctx.Err(), true
		return
	}
	defer func() { <-f.turn }()
	f.rounds.Lock()
	f.joining = nil
	f.rounds.Unlock()
	f.mu.Lock()
	pos := f.pos
	f.mu.Unlock()
	behind, err := f.feed.Behind(ctx, pos)
	if err == nil && behind {
		err = f.catchUp(ctx)
	}
	r.err, r.expired = err, err != nil && ctx.Err() != nil
}

// catchUp applies the changes since the last position. Each changed
// incident leaves the cache under the grid's write lock, with the version
// step: a page whose ids were chosen before this catch-up then sees a new
// version and keeps its rows, possibly older than the change, out of the
// cache (see Cache.Incidents).
func (f *Follower[P]) catchUp(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	changes, pos, err := f.feed.Changes(ctx, f.pos)
	if err != nil {
		return err
	}
	g := f.grid
	if len(changes) > 0 {
		g.mu.Lock()
		for _, c := range changes {
			f.cache.Evict(c.Entry.ID)
		}
		g.apply(changes)
		g.version++
		g.mu.Unlock()
	}
	f.pos = pos
	return nil
}
