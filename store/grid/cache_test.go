package grid

import (
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestCacheStaysWithinItsBytes fills the cache past its budget with
// incidents of mixed sizes: the newest stay, the oldest go, the total never
// passes the budget, and one incident too large to share it is not kept.
func TestCacheStaysWithinItsBytes(t *testing.T) {
	const budget = 256 << 10
	c := NewCache(budget)
	mk := func(id int64, text int) *domain.Incident {
		return &domain.Incident{ID: id, Description: string(make([]byte, text))}
	}
	for id := int64(1); id <= 1000; id++ {
		c.Put([]*domain.Incident{mk(id, int(id%7)*100)})
		if c.bytes > budget {
			t.Fatalf("after %d puts the cache holds %d bytes, over its %d", id, c.bytes, budget)
		}
	}
	got := c.Get([]int64{1000, 999, 1, 2}, nil)
	if got[0] == nil || got[1] == nil {
		t.Errorf("the newest incidents were evicted")
	}
	if got[2] != nil || got[3] != nil {
		t.Errorf("the oldest incidents outlived 1,000 puts into a %d-byte cache", budget)
	}
	c.Put([]*domain.Incident{mk(5000, budget/2)})
	if c.Get([]int64{5000}, nil)[0] != nil {
		t.Errorf("an incident of half the budget was cached")
	}
	if c.Get([]int64{1000}, nil)[0] == nil {
		t.Errorf("a refused huge incident evicted others")
	}
}
