package api

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// fakeClock is a limiter clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeLimiter(rate float64) (*limiter, *fakeClock) {
	c := &fakeClock{t: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC)}
	l := newLimiter(rate)
	l.now = c.now
	return l, c
}

// TestLimiterBucket walks one bucket through spending, waiting and refunds.
func TestLimiterBucket(t *testing.T) {
	l, clock := newFakeLimiter(10) // burst 20
	type op struct {
		advance  time.Duration
		refund   bool
		wantOK   bool
		wantWait time.Duration
	}
	var ops []op
	for range 20 {
		ops = append(ops, op{wantOK: true})
	}
	ops = append(ops,
		op{wantOK: false, wantWait: 100 * time.Millisecond},                 // empty: one request takes 1/10 s
		op{advance: 40 * time.Millisecond, wantWait: 60 * time.Millisecond}, // partly refilled
		op{advance: 60 * time.Millisecond, wantOK: true},
		op{refund: true},
		op{wantOK: true}, // the refund is spendable
		op{wantOK: false, wantWait: 100 * time.Millisecond},
		op{advance: time.Hour, wantOK: true}, // a long rest refills up to the burst, no more
	)
	for range 19 {
		ops = append(ops, op{wantOK: true})
	}
	ops = append(ops, op{wantOK: false, wantWait: 100 * time.Millisecond})
	for i, o := range ops {
		clock.add(o.advance)
		if o.refund {
			l.refund("k")
			continue
		}
		ok, wait := l.take("k")
		if ok != o.wantOK || (wait-o.wantWait).Abs() > time.Microsecond {
			t.Fatalf("op %d: take = %v, %v; want %v, %v", i, ok, wait, o.wantOK, o.wantWait)
		}
	}
}

// TestLimiterMemoryStaysBounded: idle buckets are forgotten once they
// would be full again, and a flood of fresh keys never holds more than the
// cap.
func TestLimiterMemoryStaysBounded(t *testing.T) {
	tests := []struct {
		name     string
		keys     int
		max      int
		spacing  time.Duration // between two new keys
		wantMost int
	}{
		{"keys seen one a second keep only the last few", 1000, 1 << 16, time.Second, 10},
		{"a burst of fresh keys stops at the cap", 10000, 500, 0, 500},
		{"a fast stream of fresh keys stops at the cap", 10000, 500, time.Millisecond, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clock := newFakeLimiter(1) // a bucket refills in 2 s
			l.max = tt.max
			most := 0
			for i := range tt.keys {
				clock.add(tt.spacing)
				if ok, _ := l.take(fmt.Sprint("ip:", i)); !ok {
					t.Fatalf("a new key was refused")
				}
				most = max(most, len(l.buckets))
			}
			if most > tt.wantMost {
				t.Fatalf("the limiter held %d buckets, want at most %d", most, tt.wantMost)
			}
		})
	}
}

// TestLimiterForgetsOnlyFullBuckets: a bucket dropped by a sweep is one
// that had refilled anyway, so forgetting it changes no answer.
func TestLimiterForgetsOnlyFullBuckets(t *testing.T) {
	l, clock := newFakeLimiter(1)
	l.take("a")
	l.take("a") // a is empty
	clock.add(10 * time.Second)
	l.take("b") // sweeps: a has been idle long enough to be full
	if _, ok := l.buckets["a"]; ok {
		t.Fatalf("an idle, refilled bucket was kept")
	}
	l.take("c")
	l.take("c")
	clock.add(time.Second)
	l.sweep(clock.now())
	if _, ok := l.buckets["c"]; !ok {
		t.Fatalf("a bucket still refilling was forgotten")
	}
	if ok, _ := l.take("c"); !ok {
		t.Fatalf("c should hold one request after 1 s")
	}
	if ok, _ := l.take("c"); ok {
		t.Fatalf("c should be empty again")
	}
}

// TestClientKey: IPv4 clients are keyed by address, IPv6 ones by /64.
func TestClientKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:1234", "ip:192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "ip:2001:db8:1:2::"},
		{"[2001:db8:1:2::ffff]:1", "ip:2001:db8:1:2::"},
		{"[::ffff:192.0.2.7]:1", "ip:192.0.2.7"},
	}
	e := gin.New()
	if err := e.SetTrustedProxies(nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		c := gin.CreateTestContextOnly(httptest.NewRecorder(), e)
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.RemoteAddr = tt.remote
		c.Request.Header.Set("X-Forwarded-For", "203.0.113.9")
		if got := clientKey(c); got != tt.want {
			t.Errorf("clientKey(%s) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
