// Package geo is postwatch's geometry toolbox on top of orb: coordinate
// validation, bounding boxes (antimeridian-aware), geodesic distance and the
// index prefilter for radius searches. It depends only on orb.
package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// CoordDecimals is how many decimals coordinates are written with: 1e-7°
// is about a centimetre, finer than any incident location.
const CoordDecimals = 7

// ValidatePoint checks that p is a finite WGS84 [lon, lat].
func ValidatePoint(p orb.Point) error {
	lon, lat := p[0], p[1]
	switch {
	case math.IsNaN(lon) || math.IsInf(lon, 0):
		return fmt.Errorf("longitude is not a finite number")
	case math.IsNaN(lat) || math.IsInf(lat, 0):
		return fmt.Errorf("latitude is not a finite number")
	case lon < -180 || lon > 180:
		return fmt.Errorf("longitude %g is outside [-180, 180]", lon)
	case lat < -90 || lat > 90:
		return fmt.Errorf("latitude %g is outside [-90, 90]", lat)
	}
	return nil
}

// Round returns v rounded to CoordDecimals decimals, never -0: a value
// that rounds to zero from below would otherwise be written "-0", which
// no output may hold (a negative zero is not a coordinate).
func Round(v float64) float64 {
	const scale = 1e7
	return NoNegativeZero(math.Round(v*scale) / scale)
}

// Floor and Ceil round v down or up to CoordDecimals decimals: the
// corners of a box that must still contain what it bounds.
func Floor(v float64) float64 { return NoNegativeZero(math.Floor(v*1e7) / 1e7) }

// Ceil: see Floor.
func Ceil(v float64) float64 { return NoNegativeZero(math.Ceil(v*1e7) / 1e7) }

// NoNegativeZero returns v with -0 turned into 0.
func NoNegativeZero(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}

// RoundPoint rounds both coordinates of p.
func RoundPoint(p orb.Point) orb.Point {
	return orb.Point{Round(p[0]), Round(p[1])}
}

// Distance is the great-circle distance in meters between two points, by
// the haversine formula on orb's Earth radius (6,378,137 m, the WGS 84
// equatorial radius). It is up to 0.7 % longer than the WGS 84 geodesic
// (north–south near the equator, where the meridian's radius of curvature
// is 6,335 km) and never shorter by more than 0.35 %.
func Distance(a, b orb.Point) float64 {
	return orbgeo.DistanceHaversine(a, b)
}

// BBox is a WGS84 box as given in a bbox= parameter. MinLon > MaxLon means
// the box crosses the antimeridian.
type BBox struct {
	MinLon, MinLat, MaxLon, MaxLat float64
}

// NewBBox validates the four numbers of a bbox.
func NewBBox(minLon, minLat, maxLon, maxLat float64) (BBox, error) {
	for _, v := range []float64{minLon, minLat, maxLon, maxLat} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return BBox{}, fmt.Errorf("coordinates must be finite numbers")
		}
	}
	if minLon < -180 || minLon > 180 || maxLon < -180 || maxLon > 180 {
		return BBox{}, fmt.Errorf("longitudes must be within [-180, 180]")
	}
	if minLat < -90 || minLat > 90 || maxLat < -90 || maxLat > 90 {
		return BBox{}, fmt.Errorf("latitudes must be within [-90, 90]")
	}
	if minLat > maxLat {
		return BBox{}, fmt.Errorf("minimum latitude %g is greater than maximum latitude %g", minLat, maxLat)
	}
	return BBox{minLon, minLat, maxLon, maxLat}, nil
}

// Bounds splits the box into orb.Bounds that do not cross the antimeridian.
// Edges are inclusive. Longitudes -180 and 180 are one meridian, so a box
// with an edge on one of them also gets the line on the other: a point
// stored at -180 lies on the east edge of a box ending at 180.
func (b BBox) Bounds() []orb.Bound {
	if b.MinLon <= b.MaxLon {
		out := []orb.Bound{{Min: orb.Point{b.MinLon, b.MinLat}, Max: orb.Point{b.MaxLon, b.MaxLat}}}
		if b.MaxLon == 180 && b.MinLon > -180 {
			out = append(out, orb.Bound{Min: orb.Point{-180, b.MinLat}, Max: orb.Point{-180, b.MaxLat}})
		}
		if b.MinLon == -180 && b.MaxLon < 180 {
			out = append(out, orb.Bound{Min: orb.Point{180, b.MinLat}, Max: orb.Point{180, b.MaxLat}})
		}
		return out
	}
	return []orb.Bound{
		{Min: orb.Point{b.MinLon, b.MinLat}, Max: orb.Point{180, b.MaxLat}},
		{Min: orb.Point{-180, b.MinLat}, Max: orb.Point{b.MaxLon, b.MaxLat}},
	}
}

// InBounds reports whether p lies in any of bs, edges included.
func InBounds(p orb.Point, bs []orb.Bound) bool {
	for _, b := range bs {
		if b.Contains(p) {
			return true
		}
	}
	return false
}

// RadiusBounds returns boxes that contain every point within radiusM meters
// of center, for an index prefilter before the exact distance test. orb
// computes the box (covering every longitude when the circle holds a pole,
// wrapping across the antimeridian); a circle that nearly reaches a pole
// gets every longitude too, and a box that wraps is split in two.
func RadiusBounds(center orb.Point, radiusM float64) []orb.Bound {
	// A 0.1 % margin keeps float rounding from dropping points on the circle.
	b := orbgeo.NewBoundAroundPoint(center, radiusM*1.001+1)
	if math.IsNaN(b.Min[0]) || math.IsNaN(b.Max[0]) {
		b.Min[0], b.Max[0] = -180, 180
	}
	return BBox{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}.Bounds()
}
