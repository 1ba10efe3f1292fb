package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// fixedVersion is a data version that never changes.
type fixedVersion struct{}

func (fixedVersion) DataVersion(context.Context) (domain.DataVersion, error) {
	return domain.DataVersion{Change: 1}, nil
}

// TestTileCacheKeepsItsBudget: whatever the sizes put, the bytes held stay
// within the budget and equal the sum of the entries' sizes; a tile larger
// than the budget is not kept.
func TestTileCacheKeepsItsBudget(t *testing.T) {
	for _, budget := range []int64{1 << 10, 10 << 10, 100 << 10} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			tc := newTileCache(fixedVersion{}, budget)
			v := domain.DataVersion{Change: 1}
			for i := range 500 {
				size := (i * 7919) % (int(budget) / 3)
				if i%50 == 0 {
					size = int(budget) + 1
				}
				tc.put(fmt.Sprintf("8/%d/%d", i%37, i%11), v, &encodedTile{body: make([]byte, size), etag: `"x"`})
				var sum int64
				for el := tc.lru.Front(); el != nil; el = el.Next() {
					e := el.Value.(*tileEntry)
					if e.size > budget {
						t.Fatalf("an entry of %d bytes kept within a budget of %d", e.size, budget)
					}
					sum += e.size
				}
				if tc.used != sum || tc.used > budget || len(tc.byKey) != tc.lru.Len() {
					t.Fatalf("after %d puts: %d bytes counted, %d held, budget %d; %d keys, %d entries", i+1, tc.used, sum, budget, len(tc.byKey), tc.lru.Len())
				}
			}
		})
	}
}
