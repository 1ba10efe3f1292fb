package sqlite

import (
	"context"
	"database/sql"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A walCheckpointer copies an import's commits from the WAL into the
// database file on a connection and a thread of its own, so that the
// writer goes on writing meanwhile: with SQLite's automatic checkpoints
// the writer itself stopped at every 64,000th page to copy them and to
// wait for the disk at the checkpoint's two fsyncs, a quarter of its
// time in a 1M ACLED import (docs/performance.md).
//
// A PASSIVE checkpoint (https://sqlite.org/c3ref/wal_checkpoint_v2.html)
// copies the committed frames no reader still needs and never blocks the
// writer. The WAL starts over from its beginning only when a transaction
// begins with every frame copied, so the writer, once the WAL holds
// importCheckpointPages frames, finishes the copy itself (the little that
// the last passes left) just before it begins its next transaction
// (restart). Without that the WAL would grow by the whole import.
type walCheckpointer struct {
	db *sql.DB
	// mu keeps the writer's final pass from running beside a
	// background one, whose locks would keep the WAL from starting over.
	mu sync.Mutex
	// frames is the WAL's size in pages at the last pass.
	frames atomic.Int64
	quit   chan struct{}
	done   chan struct{}
}

// walCheckpointEvery is how often the background pass runs: each copies
// what about a tenth of a second of commits wrote.
var walCheckpointEvery = 100 * time.Millisecond

// startCheckpointer opens the checkpointer's connection, with the writer's
// durability (a checkpoint syncs the WAL and the database file unless
// synchronous is OFF), and starts its passes.
func (s *Store) startCheckpointer() (*walCheckpointer, error) {
	params := url.Values{}
	params.Set("_busy_timeout", strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10))
	params.Set("_synchronous", strings.ToUpper(string(s.opts.Durability)))
	db, err := sql.Open(driverName, "file:"+s.path+"?"+params.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	c := &walCheckpointer{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *walCheckpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(walCheckpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		// An error here (the disk full, say) leaves the frames to the
		// writer's own pass, which reports it.
		if frames, err := checkpointPassive(context.Background(), c.db); err == nil {
			c.frames.Store(frames)
		}
		c.mu.Unlock()
	}
}

// restart copies what the background passes left, on the writer's own
// connection (its pool's one) outside a transaction, once the WAL holds at least limit
// frames, so that the writer's next transaction starts the WAL over.
func (c *walCheckpointer) restart(ctx context.Context, writer rowQuerier, limit int64) error {
	if c.frames.Load() < limit {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := checkpointPassive(ctx, writer)
	c.frames.Store(0)
	return err
}

// stop ends the passes, after the one running, and closes the connection.
func (c *walCheckpointer) stop() error {
	close(c.quit)
	<-c.done
	return c.db.Close()
}

// rowQuerier is a *sql.DB or a *sql.Conn.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkpointPassive runs a PASSIVE checkpoint and returns the WAL's size in
// frames; SQLite reports a pass that another checkpoint kept from running
// as busy, which is no error here.
func checkpointPassive(ctx context.Context, db rowQuerier) (frames int64, err error) {
	var busy, copied int64
	err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, err
}
