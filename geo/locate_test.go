package geo_test

import (
	"testing"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/geo"
)

func TestLocate(t *testing.T) {
	square := orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {0, 4}, {0, 0}}, {{1, 1}, {2, 1}, {2, 2}, {1, 2}, {1, 1}}}
	line := orb.LineString{{0, 0}, {2, 2}, {4, 0}}
	tests := []struct {
		name string
		p    orb.Point
		g    orb.Geometry
		want geo.Location
	}{
		{"point itself", orb.Point{1, 2}, orb.Point{1, 2}, geo.Interior},
		{"another point", orb.Point{1, 2}, orb.Point{1, 3}, geo.Exterior},
		{"one of a multipoint", orb.Point{3, 4}, orb.MultiPoint{{1, 2}, {3, 4}}, geo.Interior},
		{"line end", orb.Point{4, 0}, line, geo.Boundary},
		{"line vertex", orb.Point{2, 2}, line, geo.Interior},
		{"on a segment", orb.Point{1, 1}, line, geo.Interior},
		{"off the line", orb.Point{1, 1.0000001}, line, geo.Exterior},
		{"closed line has no boundary", orb.Point{0, 0}, orb.LineString{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, geo.Interior},
		{"mod-2: two lines meeting end to end", orb.Point{1, 1}, orb.MultiLineString{{{0, 0}, {1, 1}}, {{1, 1}, {2, 0}}}, geo.Interior},
		{"mod-2: three lines meeting", orb.Point{1, 1}, orb.MultiLineString{{{0, 0}, {1, 1}}, {{1, 1}, {2, 0}}, {{1, 1}, {1, 3}}}, geo.Boundary},
		{"polygon inside", orb.Point{3, 3}, square, geo.Interior},
		{"polygon vertex", orb.Point{4, 4}, square, geo.Boundary},
		{"polygon edge", orb.Point{4, 2}, square, geo.Boundary},
		{"in the hole", orb.Point{1.5, 1.5}, square, geo.Exterior},
		{"on the hole's edge", orb.Point{1.5, 1}, square, geo.Boundary},
		{"outside", orb.Point{5, 5}, square, geo.Exterior},
		{"interior of one member wins", orb.Point{2, 0}, orb.Collection{orb.LineString{{0, 0}, {2, 0}}, orb.LineString{{1, 0}, {3, 0}}}, geo.Interior},
		{"bound", orb.Point{1, 1}, orb.Bound{Min: orb.Point{0, 0}, Max: orb.Point{1, 1}}, geo.Boundary},
		{"empty", orb.Point{0, 0}, orb.MultiPolygon{}, geo.Exterior},
	}
	for _, tt := range tests {
		if got := geo.Locate(tt.p, tt.g); got != tt.want {
			t.Errorf("%s: Locate(%v) = %d, want %d", tt.name, tt.p, got, tt.want)
		}
	}
}
