package geo

import (
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

// TestTileBoundsHoldEveryDrawnPoint: every point TilePositions draws in a
// tile lies in TileBounds, across the antimeridian and at the poles, and a
// point two cells beyond the buffer is drawn nowhere near.
func TestTileBoundsHoldEveryDrawnPoint(t *testing.T) {
	tests := []struct {
		name  string
		tile  maptile.Tile
		parts int
	}{
		{"the world", maptile.New(0, 0, 0), 1},
		{"first column", maptile.New(0, 1, 2), 2},
		{"last column", maptile.New(3, 1, 2), 2},
		{"top row", maptile.New(5, 0, 4), 1},
		{"bottom row", maptile.New(5, 15, 4), 1},
		{"inside", maptile.New(2452, 1623, 12), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bounds := TileBounds(tt.tile)
			if len(bounds) != tt.parts {
				t.Fatalf("%d boxes %v, want %d", len(bounds), bounds, tt.parts)
			}
			n := 0
			for lon := -180.0; lon <= 180; lon += 0.37 {
				for lat := -90.0; lat <= 90; lat += 0.29 {
					p := orb.Point{lon, lat}
					if len(TilePositions(tt.tile, p, nil)) > 0 {
						n++
						if !InBounds(p, bounds) {
							t.Fatalf("%v is drawn in %v but outside %v", p, tt.tile, bounds)
						}
					}
				}
			}
			if n == 0 && tt.tile.Z < 10 {
				t.Fatalf("no sample point drawn: the test proves nothing")
			}
			if tt.tile.Y == 0 && bounds[0].Max[1] != 90 || tt.tile.Y == 1<<tt.tile.Z-1 && bounds[0].Min[1] != -90 {
				t.Errorf("an edge row's bounds %v do not reach the pole", bounds)
			}
		})
	}
}

// TestTilePositionsRoundAndWrap: positions round to the nearest unit in
// world units, a cluster stays inside its cell, and the buffer reaches 64
// units past each edge and no further.
func TestTilePositionsRoundAndWrap(t *testing.T) {
	tile := maptile.New(1, 1, 1) // south-east: the equator is its top edge, y = 0
	world := float64(TileExtent << 1)
	lonOf := func(gx float64) float64 { return gx/world*360 - 180 }
	tests := []struct {
		name string
		lon  float64
		cell *maptile.Tile
		want [][2]int64
	}{
		{"rounds up", lonOf(4096 + 100.6), nil, [][2]int64{{101, 0}}},
		{"rounds down", lonOf(4096 + 100.4), nil, [][2]int64{{100, 0}}},
		{"buffer west", lonOf(4096 - 64), nil, [][2]int64{{-64, 0}}},
		{"past the buffer", lonOf(4096 - 65), nil, nil},
		{"across the antimeridian", lonOf(10), nil, [][2]int64{{4106, 0}}},
		{"kept in its cell", lonOf(4096 + 63.9), &maptile.Tile{X: 4096 / 64, Y: 4096 / 64, Z: 7}, [][2]int64{{63, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TilePositions(tile, orb.Point{tt.lon, 0}, tt.cell)
			if len(got) != len(tt.want) {
				t.Fatalf("positions %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("positions %v, want %v", got, tt.want)
				}
			}
		})
	}
}
