package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
)

// MaxTileZoom is the deepest zoom served; z22 tiles are about 10 m wide.
const MaxTileZoom = 22

// Tile geometry, Mapbox Vector Tile specification 2.1.
const (
	// TileExtent is the width of a tile in its own integer units (§4.1,
	// "extent"; 4096 is the specification's default).
	TileExtent = mvt.DefaultExtent
	// TileBuffer is how far outside a tile, in tile units, a point is still
	// written, so that a marker drawn around a point next to an edge is
	// whole on both sides of it.
	TileBuffer = 64
	// TileVersion is the layer version of specification 2.x (§4.1).
	TileVersion = 2
	// ClusterCellShift is how many zooms deeper than a tile its cluster
	// cells are: the tiles of zoom z+6 split a tile of zoom z in 64 × 64
	// cells of 64 units, the buffer's width.
	ClusterCellShift = 6
)

// cellUnits is the width of a cluster cell in tile units.
const cellUnits = TileExtent >> ClusterCellShift

// NewTile checks z/x/y and returns the web-mercator tile.
func NewTile(z, x, y int) (maptile.Tile, error) {
	if z < 0 || z > MaxTileZoom {
		return maptile.Tile{}, fmt.Errorf("zoom %d is outside 0..%d", z, MaxTileZoom)
	}
	n := 1 << z
	if x < 0 || x >= n || y < 0 || y >= n {
		return maptile.Tile{}, fmt.Errorf("tile %d/%d/%d does not exist: x and y must be in 0..%d", z, x, y, n-1)
	}
	return maptile.New(uint32(x), uint32(y), maptile.Zoom(z)), nil
}

// TileFeature is a point to draw on a tile with its properties.
type TileFeature struct {
	ID    *int64 // nil: the feature has no id
	Point orb.Point
	// Cell, when set, is the tile of zoom z+ClusterCellShift the feature
	// stands for (a cluster's cell): its position is kept inside the cell,
	// so rounding never carries a cluster into a tile that does not count it.
	Cell       *maptile.Tile
	Properties map[string]any
}

// TileLayer is a named layer of points.
type TileLayer struct {
	Name     string
	Features []TileFeature
}

// TileBounds returns boxes (WGS84) that hold every point EncodeTile may
// draw in t: the tile widened by two cluster cells (twice the buffer, so
// that rounding at the buffer's edge loses nothing), split at the
// antimeridian where it crosses it, and reaching the pole on the top and
// bottom rows, where web mercator draws the points beyond ±85.0511°.
func TileBounds(t maptile.Tile) []orb.Bound {
	zc := t.Z + ClusterCellShift
	n := int64(1) << zc
	cx0, cx1 := int64(t.X)<<ClusterCellShift-2, int64(t.X+1)<<ClusterCellShift+1
	cy0 := max(int64(t.Y)<<ClusterCellShift-2, 0)
	cy1 := min(int64(t.Y+1)<<ClusterCellShift+1, n-1)
	cell := func(cx, cy int64) orb.Bound {
		return maptile.New(uint32((cx%n+n)%n), uint32(cy), zc).Bound()
	}
	minLat, maxLat := cell(0, cy1).Min[1], cell(0, cy0).Max[1]
	if cy0 == 0 {
		maxLat = 90
	}
	if cy1 == n-1 {
		minLat = -90
	}
	box := func(minLon, maxLon float64) orb.Bound {
		return orb.Bound{Min: orb.Point{minLon, minLat}, Max: orb.Point{maxLon, maxLat}}
	}
	switch {
	case cx1-cx0+1 >= n:
		return []orb.Bound{box(-180, 180)}
	case cx0 < 0:
		return []orb.Bound{box(cell(cx0, 0).Min[0], 180), box(-180, cell(cx1, 0).Max[0])}
	case cx1 >= n:
		return []orb.Bound{box(cell(cx0, 0).Min[0], 180), box(-180, cell(cx1, 0).Max[0])}
	}
	return []orb.Bound{box(cell(cx0, 0).Min[0], cell(cx1, 0).Max[0])}
}

// TilePositions returns where p is drawn in t, in tile units: its web
// mercator position rounded to the nearest unit of the whole world at t's
// zoom (so every tile rounds a point alike), kept inside cell when one is
// given, and seen from t directly or across the antimeridian. A position
// in [0, TileExtent) is inside the tile, one within TileBuffer units of it
// is in the buffer; none means t does not draw p. At zoom 0, where the tile
// is its own neighbour, a point near the antimeridian is drawn twice.
func TilePositions(t maptile.Tile, p orb.Point, cell *maptile.Tile) [][2]int64 {
	world := int64(TileExtent) << t.Z
	f := maptile.Fraction(p, t.Z)
	gx := clampInt(int64(math.Round(f[0]*TileExtent)), 0, world-1)
	gy := clampInt(int64(math.Round(f[1]*TileExtent)), 0, world-1)
	if cell != nil {
		gx = clampInt(gx, int64(cell.X)*cellUnits, int64(cell.X+1)*cellUnits-1)
		gy = clampInt(gy, int64(cell.Y)*cellUnits, int64(cell.Y+1)*cellUnits-1)
	}
	y := gy - int64(t.Y)*TileExtent
	if y < -TileBuffer || y > TileExtent+TileBuffer {
		return nil
	}
	var out [][2]int64
	for _, x := range []int64{gx - int64(t.X)*TileExtent, gx - int64(t.X)*TileExtent - world, gx - int64(t.X)*TileExtent + world} {
		if x >= -TileBuffer && x <= TileExtent+TileBuffer {
			out = append(out, [2]int64{x, y})
		}
	}
	return out
}

func clampInt(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

// EncodeTile writes layers of points as a Mapbox Vector Tile 2.1 of t:
// each layer with version 2 and extent 4096, each point at its
// TilePositions, the buffer included. Layers with no point to draw are
// left out; nil means the tile draws nothing at all. orb's mvt encoder
// writes the protobuf; the positions are computed here because orb's
// projection truncates instead of rounding and its layers are version 1.
func EncodeTile(t maptile.Tile, layers []TileLayer) ([]byte, error) {
	var out mvt.Layers
	for _, l := range layers {
		layer := &mvt.Layer{Name: l.Name, Version: TileVersion, Extent: TileExtent}
		for _, f := range l.Features {
			// A float attribute of -0 (a distance, a radius) is written as 0.
			for k, v := range f.Properties {
				if x, ok := v.(float64); ok {
					f.Properties[k] = NoNegativeZero(x)
				}
			}
			for _, pos := range TilePositions(t, f.Point, f.Cell) {
				gf := geojson.NewFeature(orb.Point{float64(pos[0]), float64(pos[1])})
				if f.ID != nil {
					gf.ID = *f.ID
				}
				gf.Properties = f.Properties
				layer.Features = append(layer.Features, gf)
			}
		}
		if len(layer.Features) > 0 {
			out = append(out, layer)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return mvt.Marshal(out)
}
