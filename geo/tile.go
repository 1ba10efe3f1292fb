package geo

import (
	"fmt"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
)

// MaxTileZoom is the deepest zoom served; z22 tiles are about 10 m wide.
const MaxTileZoom = 22

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
	ID         int64
	Point      orb.Point
	Properties map[string]any
}

// EncodeTile writes layers of points as a Mapbox Vector Tile of t, in the
// tile's own coordinates, through orb's mvt encoder.
func EncodeTile(t maptile.Tile, layers map[string][]TileFeature) ([]byte, error) {
	collections := map[string]*geojson.FeatureCollection{}
	for name, features := range layers {
		fc := geojson.NewFeatureCollection()
		for _, f := range features {
			gf := geojson.NewFeature(f.Point)
			gf.ID = f.ID
			gf.Properties = f.Properties
			for k, v := range gf.Properties {
				if x, ok := v.(float64); ok {
					gf.Properties[k] = NoNegativeZero(x)
				}
			}
			fc.Append(gf)
		}
		collections[name] = fc
	}
	ls := mvt.NewLayers(collections)
	ls.ProjectToTile(t)
	return mvt.Marshal(ls)
}
