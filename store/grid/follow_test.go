package grid

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// logFeed is a change feed over an in-memory log of created incidents:
// its position is the log's length, as a history id is on SQLite. Behind
// takes a moment, as a statement to the database does, so that queries
// pile up behind it.
type logFeed struct {
	mu     sync.Mutex
	log    []Entry
	checks atomic.Int64
}

func (l *logFeed) commit(e Entry) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, e)
	return len(l.log)
}

func (l *logFeed) Build(context.Context, *Grid) (int, error) { return 0, nil }

func (l *logFeed) Behind(_ context.Context, pos int) (bool, error) {
	l.checks.Add(1)
	l.mu.Lock()
	n := len(l.log)
	l.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	return n > pos, nil
}

func (l *logFeed) Changes(_ context.Context, pos int) ([]Change, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var changes []Change
	for _, e := range l.log[pos:] {
		changes = append(changes, Change{Entry: e})
	}
	return changes, len(l.log), nil
}

// TestCurrentSeesWhatCommittedBefore: queries share freshness checks, yet
// every query sees every write committed before it began, and under load
// far fewer checks run than queries.
func TestCurrentSeesWhatCommittedBefore(t *testing.T) {
	for _, readers := range []int{1, 4, 32} {
		feed := &logFeed{}
		f, err := Follow[int](feed, 1<<20, false)
		if err != nil {
			t.Fatal(err)
		}
		var queries atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, readers)
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					feed.mu.Lock()
					committed := len(feed.log)
					feed.mu.Unlock()
					g, err := f.Current(context.Background())
					if err != nil {
						errs <- err
						return
					}
					queries.Add(1)
					g.RLock()
					n := g.Len()
					g.RUnlock()
					if n < committed {
						errs <- fmt.Errorf("a query saw %d incidents after %d had committed", n, committed)
						return
					}
				}
			}()
		}
		for i := range 100 {
			feed.commit(Entry{ID: int64(i + 1), At: int64(i), Lon: 44, Lat: 33})
			time.Sleep(3 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%d readers: %v", readers, err)
		}
		checks, q := feed.checks.Load(), queries.Load()
		t.Logf("%d readers: %d queries, %d checks", readers, q, checks)
		if readers == 32 && checks*4 > q {
			t.Errorf("%d readers: %d checks for %d queries; concurrent queries should share them", readers, checks, q)
		}
	}
}

// stuckFeed is a database that does not answer: Behind returns only once
// released or once its context ends, as a statement does on a lock or a
// lost connection.
type stuckFeed struct {
	logFeed
	release chan struct{}
}

func (s *stuckFeed) Behind(ctx context.Context, pos int) (bool, error) {
	select {
	case <-s.release:
		return s.logFeed.Behind(ctx, pos)
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// TestCurrentIsBoundedByItsContext: while the database does not answer,
// a query returns once its deadline passes, whether it leads the round
// under way, leads the next or joins one; a round goes on for the queries
// that joined it when its leader's client hangs up (the leader waits for
// it, to its deadline) or its leader's deadline passes; and once the
// database answers, so do the queries still waiting.
func TestCurrentIsBoundedByItsContext(t *testing.T) {
	const (
		patient = iota // waits as long as it takes
		short          // times out while the database does not answer
		hangsUp        // its client goes away while it leads a round
	)
	for _, tc := range []struct {
		name    string
		queries []int // each starts once the one before waits
	}{
		{"a leader times out", []int{short}},
		{"the next round's leader times out", []int{patient, short}},
		{"a query that joined times out", []int{patient, patient, short}},
		{"a round outlives its leader's timeout", []int{patient, short, patient}},
		{"a round outlives a leader that hung up", []int{patient, hangsUp, patient}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feed := &stuckFeed{release: make(chan struct{})}
			f, err := Follow[int](feed, 1<<20, false)
			if err != nil {
				t.Fatal(err)
			}
			feed.commit(Entry{ID: 1, Lon: 44, Lat: 33})
			results := make([]chan error, len(tc.queries))
			for i, kind := range tc.queries {
				ctx := context.Background()
				switch kind {
				case short:
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
					t.Cleanup(cancel)
				case hangsUp:
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(10*time.Millisecond, cancel)
				}
				results[i] = make(chan error, 1)
				go func() {
					g, err := f.Current(ctx)
					if err == nil && g.Len() != 1 {
						err = fmt.Errorf("the grid holds %d incidents, not the 1 committed", g.Len())
					}
					results[i] <- err
				}()
				time.Sleep(5 * time.Millisecond)
			}
			wait := func(i int) error {
				select {
				case err := <-results[i]:
					return err
				case <-time.After(2 * time.Second):
					t.Fatalf("query %d still waits", i)
					return nil
				}
			}
			for i, kind := range tc.queries {
				if kind == short && wait(i) == nil {
					t.Errorf("query %d: no error while the database did not answer", i)
				}
			}
			close(feed.release)
			for i, kind := range tc.queries {
				if kind == short {
					continue
				}
				if err := wait(i); kind == patient && err != nil {
					t.Errorf("query %d, once the database answers: %v", i, err)
				}
			}
		})
	}
}
