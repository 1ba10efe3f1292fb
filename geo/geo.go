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
// corners of a box that must still contain what it bounds, and no wider.
// v*1e7 may round past a whole number either way (59.241619199999995 to
// 592416192; 179.1234568, a value Round wrote, to 1791234568.0000002),
// so the result moves one decimal back when it lands on the wrong side of
// v, or when the decimal before it still holds v.
func Floor(v float64) float64 {
	n := math.Floor(v * 1e7)
	switch {
	case n/1e7 > v:
		n--
	case (n+1)/1e7 <= v:
		n++
	}
	return NoNegativeZero(n / 1e7)
}

// Ceil: see Floor.
func Ceil(v float64) float64 {
	n := math.Ceil(v * 1e7)
	switch {
	case n/1e7 < v:
		n++
	case (n-1)/1e7 >= v:
		n--
	}
	return NoNegativeZero(n / 1e7)
}

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

// WGS 84's ellipsoid (NIMA TR8350.2): semi-major axis in meters and
// flattening.
const (
	wgs84A = 6378137.0
	wgs84F = 1 / 298.257223563
	wgs84B = wgs84A * (1 - wgs84F)
)

// Distance is the geodesic distance in meters between two points on the
// WGS 84 ellipsoid, by Vincenty's inverse formula (Survey Review 23(176),
// 1975): within 0.5 mm of the exact geodesic. Near-antipodal points, where
// the iteration may not converge, get the haversine on a 6,378,137 m
// sphere instead (within 0.7 %); no radius postwatch takes (1,000 km at
// most) comes near them. PostGIS's pw_distance (store/postgis/migrate.go)
// is this function operation for operation, so both engines draw a radius
// on the same side of every point.
func Distance(a, b orb.Point) float64 {
	if a == b {
		return 0
	}
	const rad = math.Pi / 180
	dLon := math.Mod(b[0]-a[0], 360)
	if dLon > 180 {
		dLon -= 360
	} else if dLon < -180 {
		dLon += 360
	}
	l := dLon * rad
	u1 := math.Atan((1 - wgs84F) * math.Tan(a[1]*rad))
	u2 := math.Atan((1 - wgs84F) * math.Tan(b[1]*rad))
	sinU1, cosU1 := math.Sincos(u1)
	sinU2, cosU2 := math.Sincos(u2)
	lambda := l
	for range 200 {
		sinL, cosL := math.Sincos(lambda)
		x, y := cosU2*sinL, cosU1*sinU2-sinU1*cosU2*cosL
		sinSigma := math.Sqrt(x*x + y*y)
		if sinSigma == 0 {
			return 0 // the same point, written differently (a pole)
		}
		cosSigma := sinU1*sinU2 + cosU1*cosU2*cosL
		sigma := math.Atan2(sinSigma, cosSigma)
		sinAlpha := cosU1 * cosU2 * sinL / sinSigma
		cos2Alpha := 1 - sinAlpha*sinAlpha
		cos2SigmaM := 0.0 // both points on the equator
		if cos2Alpha != 0 {
			cos2SigmaM = cosSigma - 2*sinU1*sinU2/cos2Alpha
		}
		c := wgs84F / 16 * cos2Alpha * (4 + wgs84F*(4-3*cos2Alpha))
		prev := lambda
		lambda = l + (1-c)*wgs84F*sinAlpha*(sigma+c*sinSigma*(cos2SigmaM+c*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))
		if math.Abs(lambda-prev) < 1e-12 {
			u := cos2Alpha * (wgs84A*wgs84A - wgs84B*wgs84B) / (wgs84B * wgs84B)
			bigA := 1 + u/16384*(4096+u*(-768+u*(320-175*u)))
			bigB := u / 1024 * (256 + u*(-128+u*(74-47*u)))
			dSigma := bigB * sinSigma * (cos2SigmaM + bigB/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
				bigB/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
			return wgs84B * bigA * (sigma - dSigma)
		}
	}
	return orbgeo.DistanceHaversine(a, b)
}

// Within reports whether b lies within radiusM meters of a, as
// Distance(a, b) <= radiusM says, testing the cheap haversine first: the
// geodesic lies between 0.9933 and 1.0034 times it (the ellipsoid's radii
// of curvature, 6,335 to 6,400 km, against the sphere's 6,378), so only
// points near the circle need Vincenty's iteration.
func Within(a, b orb.Point, radiusM float64) bool {
	h := orbgeo.DistanceHaversine(a, b)
	switch {
	case h*0.993 > radiusM:
		return false
	case h*1.004 <= radiusM:
		return true
	}
	return Distance(a, b) <= radiusM
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
	// orb draws the box on its sphere, where a point radiusM along the
	// ellipsoid may lie up to 0.68 % farther (Within); 1 % holds it.
	b := orbgeo.NewBoundAroundPoint(center, radiusM*1.01+1)
	if math.IsNaN(b.Min[0]) || math.IsNaN(b.Max[0]) {
		b.Min[0], b.Max[0] = -180, 180
	}
	return BBox{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}.Bounds()
}
