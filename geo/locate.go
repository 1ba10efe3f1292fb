package geo

import (
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Location is where a point lies relative to a geometry: in its interior,
// on its boundary or outside, as the DE-9IM of Simple Features (OGC
// 06-103r4, 6.1.15) defines them. The boundary of a point is empty, that of
// a line its two ends unless it is closed (for several lines, the ends that
// occur an odd number of times), that of a polygon its rings.
type Location int

// The locations of a point relative to a geometry.
const (
	Exterior Location = iota
	Interior
	Boundary
)

// Locate returns where p lies relative to g in the plane of longitude and
// latitude. Members of a multi-geometry or collection are taken together:
// the interior of any member wins over the boundary of another. An empty
// geometry has p in its exterior.
func Locate(p orb.Point, g orb.Geometry) Location {
	switch g := g.(type) {
	case orb.Point:
		if p == g {
			return Interior
		}
	case orb.MultiPoint:
		for _, q := range g {
			if p == q {
				return Interior
			}
		}
	case orb.LineString:
		return locateLines(p, []orb.LineString{g})
	case orb.MultiLineString:
		return locateLines(p, g)
	case orb.Ring:
		return locatePolygon(p, orb.Polygon{g})
	case orb.Polygon:
		return locatePolygon(p, g)
	case orb.MultiPolygon:
		loc := Exterior
		for _, poly := range g {
			switch locatePolygon(p, poly) {
			case Interior:
				return Interior
			case Boundary:
				loc = Boundary
			}
		}
		return loc
	case orb.Collection:
		loc := Exterior
		for _, m := range g {
			switch Locate(p, m) {
			case Interior:
				return Interior
			case Boundary:
				loc = Boundary
			}
		}
		return loc
	case orb.Bound:
		return locatePolygon(p, g.ToPolygon())
	}
	return Exterior
}

// locateLines applies the mod-2 rule: an end shared by an even number of
// open lines is interior (two lines meeting end to end make one path).
func locateLines(p orb.Point, ls []orb.LineString) Location {
	ends := 0
	on := false
	for _, l := range ls {
		if len(l) == 0 {
			continue
		}
		if l[0] != l[len(l)-1] {
			if p == l[0] {
				ends++
			}
			if p == l[len(l)-1] {
				ends++
			}
		}
		on = on || onPath(p, l)
	}
	switch {
	case ends%2 == 1:
		return Boundary
	case on:
		return Interior
	}
	return Exterior
}

func locatePolygon(p orb.Point, poly orb.Polygon) Location {
	if len(poly) == 0 {
		return Exterior
	}
	for _, r := range poly {
		if onPath(p, orb.LineString(r)) {
			return Boundary
		}
	}
	if planar.PolygonContains(poly, p) {
		return Interior
	}
	return Exterior
}

// onPath reports whether p lies on one of the segments of l (or is its only
// point).
func onPath(p orb.Point, l orb.LineString) bool {
	if len(l) == 1 {
		return p == l[0]
	}
	for i := 0; i+1 < len(l); i++ {
		if onSegment(p, l[i], l[i+1]) {
			return true
		}
	}
	return false
}

// onSegment is an exact test: p is collinear with a and b (their cross
// product is zero) and inside the box they span.
func onSegment(p, a, b orb.Point) bool {
	if p[0] < min(a[0], b[0]) || p[0] > max(a[0], b[0]) || p[1] < min(a[1], b[1]) || p[1] > max(a[1], b[1]) {
		return false
	}
	return (b[0]-a[0])*(p[1]-a[1]) == (b[1]-a[1])*(p[0]-a[0])
}
