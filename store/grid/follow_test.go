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
