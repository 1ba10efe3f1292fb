package geo_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"

	"github.com/postwatch/postwatch/geo"
)

func TestValidatePoint(t *testing.T) {
	tests := []struct {
		name string
		p    orb.Point
		ok   bool
	}{
		{"origin", orb.Point{0, 0}, true},
		{"corners of the world", orb.Point{180, -90}, true},
		{"other corner", orb.Point{-180, 90}, true},
		{"longitude 180.0000001", orb.Point{180.0000001, 0}, false},
		{"longitude -181", orb.Point{-181, 0}, false},
		{"latitude 91", orb.Point{0, 91}, false},
		{"latitude -90.5", orb.Point{0, -90.5}, false},
		{"NaN longitude", orb.Point{math.NaN(), 0}, false},
		{"infinite latitude", orb.Point{0, math.Inf(1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := geo.ValidatePoint(tt.p)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidatePoint(%v) = %v, want ok=%v", tt.p, err, tt.ok)
			}
		})
	}
}

func TestNewBBox(t *testing.T) {
	tests := []struct {
		name    string
		v       [4]float64
		wantErr string // substring of the error; "" means valid
	}{
		{"ordinary box", [4]float64{44, 29, 49, 32}, ""},
		{"whole world", [4]float64{-180, -90, 180, 90}, ""},
		{"degenerate point box", [4]float64{10, 10, 10, 10}, ""},
		{"crossing the antimeridian", [4]float64{170, -10, -170, 10}, ""},
		{"min latitude above max latitude", [4]float64{0, 10, 1, 5}, "minimum latitude 10 is greater than maximum latitude 5"},
		{"latitude 91", [4]float64{0, 0, 1, 91}, "latitudes"},
		{"latitude -91", [4]float64{0, -91, 1, 0}, "latitudes"},
		{"longitude 181", [4]float64{0, 0, 181, 1}, "longitudes"},
		{"longitude -180.5", [4]float64{-180.5, 0, 1, 1}, "longitudes"},
		{"NaN", [4]float64{math.NaN(), 0, 1, 1}, "finite"},
		{"infinity", [4]float64{0, 0, math.Inf(1), 1}, "finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := geo.NewBBox(tt.v[0], tt.v[1], tt.v[2], tt.v[3])
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if b != (geo.BBox{MinLon: tt.v[0], MinLat: tt.v[1], MaxLon: tt.v[2], MaxLat: tt.v[3]}) {
					t.Fatalf("box %+v does not keep the numbers %v", b, tt.v)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBBoxBounds(t *testing.T) {
	tests := []struct {
		name    string
		box     geo.BBox
		want    []orb.Bound
		inside  []orb.Point
		outside []orb.Point
	}{
		{
			name:   "ordinary box keeps its edges",
			box:    geo.BBox{MinLon: 10, MinLat: 20, MaxLon: 30, MaxLat: 40},
			want:   []orb.Bound{{Min: orb.Point{10, 20}, Max: orb.Point{30, 40}}},
			inside: []orb.Point{{10, 30}, {30, 30}, {20, 20}, {20, 40}, {10, 20}, {30, 40}, {20, 30}},
			outside: []orb.Point{
				{10 - 1e-6, 30}, {30 + 1e-6, 30}, {20, 20 - 1e-6}, {20, 40 + 1e-6},
				{-20, 30}, // the mirror of an inside point is not inside
			},
		},
		{
			name: "antimeridian box splits in two",
			box:  geo.BBox{MinLon: 170, MinLat: -10, MaxLon: -170, MaxLat: 10},
			want: []orb.Bound{
				{Min: orb.Point{170, -10}, Max: orb.Point{180, 10}},
				{Min: orb.Point{-180, -10}, Max: orb.Point{-170, 10}},
			},
			inside:  []orb.Point{{175, 0}, {-175, 0}, {180, 0}, {-180, 0}, {170, 10}, {-170, -10}},
			outside: []orb.Point{{0, 0}, {169.999999, 0}, {-169.999999, 0}, {175, 10.000001}, {100, 0}},
		},
		{
			name: "box ending on 180 also holds -180",
			box:  geo.BBox{MinLon: 170, MinLat: -10, MaxLon: 180, MaxLat: 10},
			want: []orb.Bound{
				{Min: orb.Point{170, -10}, Max: orb.Point{180, 10}},
				{Min: orb.Point{-180, -10}, Max: orb.Point{-180, 10}},
			},
			inside:  []orb.Point{{175, 0}, {180, 10}, {-180, -10}, {-180, 0}},
			outside: []orb.Point{{-179.999999, 0}, {-180, 10.000001}, {169.999999, 0}},
		},
		{
			name: "box starting on -180 also holds 180",
			box:  geo.BBox{MinLon: -180, MinLat: 0, MaxLon: -175, MaxLat: 5},
			want: []orb.Bound{
				{Min: orb.Point{-180, 0}, Max: orb.Point{-175, 5}},
				{Min: orb.Point{180, 0}, Max: orb.Point{180, 5}},
			},
			inside:  []orb.Point{{-177, 2}, {180, 0}, {180, 5}},
			outside: []orb.Point{{179.999999, 2}, {180, -0.000001}},
		},
		{
			name:   "whole world needs no extra line",
			box:    geo.BBox{MinLon: -180, MinLat: -90, MaxLon: 180, MaxLat: 90},
			want:   []orb.Bound{{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}},
			inside: []orb.Point{{-180, 0}, {180, 0}, {0, 90}, {0, -90}},
		},
		{
			name:    "antimeridian box touching the line",
			box:     geo.BBox{MinLon: 180, MinLat: 0, MaxLon: -179, MaxLat: 1},
			want:    []orb.Bound{{Min: orb.Point{180, 0}, Max: orb.Point{180, 1}}, {Min: orb.Point{-180, 0}, Max: orb.Point{-179, 1}}},
			inside:  []orb.Point{{180, 0.5}, {-179.5, 0.5}},
			outside: []orb.Point{{179.9, 0.5}, {0, 0.5}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.box.Bounds()
			if len(got) != len(tt.want) {
				t.Fatalf("Bounds() = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Fatalf("Bounds()[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
			for _, p := range tt.inside {
				if !geo.InBounds(p, got) {
					t.Errorf("%v should be inside %v", p, got)
				}
			}
			for _, p := range tt.outside {
				if geo.InBounds(p, got) {
					t.Errorf("%v should be outside %v", p, got)
				}
			}
		})
	}
}

// TestRadiusBoundsHoldTheCircle samples the circle every degree of bearing
// (and a circle at half the radius) and checks each point is in the boxes:
// the R*Tree prefilter must never drop a point the distance test keeps.
func TestRadiusBoundsHoldTheCircle(t *testing.T) {
	tests := []struct {
		name      string
		center    orb.Point
		radiusM   float64
		wantBoxes int
		// maxLonSpan bounds the total longitude width, so a box that simply
		// covers the world where it need not does not pass; 360 allows it.
		maxLonSpan float64
	}{
		{"equator 5 km", orb.Point{0, 0}, 5000, 1, 0.1},
		{"equator 0 m", orb.Point{47.8, 30.5}, 0, 1, 0.001},
		{"Baghdad 1000 km", orb.Point{44.4, 33.3}, 1_000_000, 1, 25},
		{"latitude 80", orb.Point{15, 80}, 5000, 1, 0.6},
		{"latitude -80 100 km", orb.Point{-60, -80}, 100_000, 1, 11},
		{"antimeridian east side", orb.Point{179.99, 0}, 5000, 2, 0.1},
		{"antimeridian west side", orb.Point{-179.99, 0}, 5000, 2, 0.1},
		{"on the antimeridian", orb.Point{180, -17}, 5000, 2, 0.1},
		{"antimeridian at 80", orb.Point{-179.9, 80}, 20000, 2, 2.1},
		{"north pole", orb.Point{0, 89.99}, 5000, 1, 360},
		{"south pole", orb.Point{120, -89.99}, 5000, 1, 360},
		{"at the pole itself", orb.Point{0, 90}, 5000, 1, 360},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := geo.RadiusBounds(tt.center, tt.radiusM)
			if len(bs) != tt.wantBoxes {
				t.Fatalf("RadiusBounds = %v: %d boxes, want %d", bs, len(bs), tt.wantBoxes)
			}
			span := 0.0
			for _, b := range bs {
				if b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90 || b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
					t.Fatalf("box %v is not a valid non-wrapping WGS84 box", b)
				}
				span += b.Max[0] - b.Min[0]
			}
			if span > tt.maxLonSpan {
				t.Errorf("boxes %v span %.4f° of longitude, want at most %g", bs, span, tt.maxLonSpan)
			}
			if !geo.InBounds(tt.center, bs) {
				t.Fatalf("centre %v is outside %v", tt.center, bs)
			}
			for _, frac := range []float64{1, 0.5} {
				for bearing := 0; bearing < 360; bearing++ {
					// A point radiusM along the ellipsoid is at most 0.68 %
					// farther on orb's sphere, where this draws the circle.
					p := orbgeo.PointAtBearingAndDistance(tt.center, float64(bearing), tt.radiusM*frac*1.0068)
					// orb may answer a longitude just past ±180; fold it back
					// as any stored point would be.
					if p[0] > 180 {
						p[0] -= 360
					} else if p[0] < -180 {
						p[0] += 360
					}
					if !geo.InBounds(p, bs) {
						t.Fatalf("point %v at bearing %d°, %.0f m is outside %v", p, bearing, tt.radiusM*frac, bs)
					}
				}
			}
		})
	}
}

// TestDistance: the WGS 84 geodesic, against PostGIS's
// ST_Distance(geography, geography, true) (GeographicLib's algorithm, an
// oracle independent of this code) to the millimetre.
func TestDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b orb.Point
		want float64 // PostGIS 3, meters
	}{
		{"same point", orb.Point{44, 33}, orb.Point{44, 33}, 0},
		{"inside a 5 km radius, north of it at the equator", orb.Point{10, 0}, orb.Point{10, 0.045}, 4975.8424},
		{"inside a 5 km radius at Erbil", orb.Point{44, 36.19}, orb.Point{44, 36.235}, 4993.3325},
		{"one degree of latitude at the equator", orb.Point{10, 0}, orb.Point{10, 1}, 110574.3886},
		{"one degree of longitude at the equator", orb.Point{0, 0}, orb.Point{1, 0}, 111319.4908},
		{"across the antimeridian", orb.Point{179.5, 0}, orb.Point{-179.5, 0}, 111319.4908},
		{"across the pole", orb.Point{0, 89.5}, orb.Point{180, 89.5}, 111693.9509},
		{"near the pole", orb.Point{0, 89.99}, orb.Point{180, 89.99}, 2233.8796},
		{"one degree of longitude at 60°", orb.Point{0, 60}, orb.Point{1, 60}, 55799.4704},
		{"Antarctic", orb.Point{-60, -80}, orb.Point{-59, -80.5}, 58945.3688},
		{"Basrah to Baghdad", orb.Point{47.8, 30.5}, orb.Point{44.4, 33.3}, 446974.7411},
		{"ten degrees north of Baghdad", orb.Point{44.4, 33.3}, orb.Point{44.4, 43.3}, 1110028.3997},
		{"a few metres", orb.Point{0, 0}, orb.Point{0.0001, 0.0001}, 15.6903},
		{"New York to Paris", orb.Point{-74.006, 40.7128}, orb.Point{2.3522, 48.8566}, 5852935.2918},
		{"Sydney to London", orb.Point{151.2093, -33.8688}, orb.Point{-0.1276, 51.5072}, 16989294.7052},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := geo.Distance(tt.a, tt.b)
			if math.Abs(got-tt.want) > 0.001 {
				t.Fatalf("Distance = %.4f m, want %.4f m", got, tt.want)
			}
			if back := geo.Distance(tt.b, tt.a); math.Abs(back-got) > 1e-6 {
				t.Fatalf("distance is not symmetric: %.6f vs %.6f", got, back)
			}
			for _, r := range []float64{tt.want - 0.01, tt.want + 0.01, tt.want * 0.99, tt.want * 1.01} {
				if geo.Within(tt.a, tt.b, r) != (got <= r) {
					t.Errorf("Within(radius %.4f) = %v, Distance %.4f", r, !(got <= r), got)
				}
			}
		})
	}
}

// TestDistanceNearAntipodes: where Vincenty's iteration does not converge
// the haversine answers, within 0.7 %, and nothing is NaN.
func TestDistanceNearAntipodes(t *testing.T) {
	for _, p := range [][2]orb.Point{
		{{0, 0}, {179.7, 0}}, {{0, 0}, {180, 0}}, {{0, 0.5}, {179.5, -0.5}}, {{10, 0}, {-170, 0.0001}},
	} {
		d, h := geo.Distance(p[0], p[1]), orbgeo.DistanceHaversine(p[0], p[1])
		if math.IsNaN(d) || math.Abs(d-h) > 0.007*h {
			t.Errorf("Distance(%v, %v) = %v, haversine %v", p[0], p[1], d, h)
		}
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		in, want float64
	}{
		{12.34567891, 12.3456789},
		{12.34567896, 12.345679},
		{-44.12345678, -44.1234568},
		{179.99999996, 180},
		{0.00000004, 0},
		{0.00000006, 0.0000001},
		{33.3, 33.3},
		{-180, -180},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatFloat(tt.in, 'g', -1, 64), func(t *testing.T) {
			got := geo.Round(tt.in)
			if got != tt.want {
				t.Fatalf("Round(%v) = %v, want %v", tt.in, got, tt.want)
			}
			s := strconv.FormatFloat(got, 'f', -1, 64)
			if _, frac, ok := strings.Cut(s, "."); ok && len(frac) > geo.CoordDecimals {
				t.Fatalf("Round(%v) prints as %s, more than %d decimals", tt.in, s, geo.CoordDecimals)
			}
			p := geo.RoundPoint(orb.Point{tt.in, -tt.in})
			if p[0] != tt.want || p[1] != geo.Round(-tt.in) {
				t.Fatalf("RoundPoint = %v", p)
			}
		})
	}
}

// TestFloorCeil: the corners of a box rounded to CoordDecimals still hold
// the value, also where v*1e7 rounds to the whole number past it, and
// print with at most CoordDecimals decimals.
// TestFloorCeilKeepRounded: a value Round wrote is its own Floor and
// Ceil, so the extent of stored points is their exact box.
func TestFloorCeilKeepRounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200000 {
		v := geo.Round(rng.Float64()*360 - 180)
		if f, c := geo.Floor(v), geo.Ceil(v); f != v || c != v {
			t.Fatalf("Floor, Ceil(%v) = %v, %v", v, f, c)
		}
	}
}

func TestFloorCeil(t *testing.T) {
	for _, tt := range []struct {
		in, floor, ceil float64
	}{
		{123.45649, 123.45649, 123.45649},
		{123.456491, 123.4564910, 123.4564910},
		{123.45649123, 123.4564912, 123.4564913},
		{-1e-8, -0.0000001, 0},
		{-4e-8, -0.0000001, 0},
		{4e-8, 0, 0.0000001},
		{59.241619199999995, 59.2416191, 59.2416192}, // 59.241619199999995e7 is 592416192
		{-123.00182000000001, -123.0018201, -123.00182},
		{180, 180, 180},
		{-180, -180, -180},
		{179.1234568, 179.1234568, 179.1234568}, // 179.1234568e7 is 1791234568.0000002
		{84.1234567, 84.1234567, 84.1234567},
	} {
		t.Run(strconv.FormatFloat(tt.in, 'g', -1, 64), func(t *testing.T) {
			f, c := geo.Floor(tt.in), geo.Ceil(tt.in)
			if f != tt.floor || c != tt.ceil || f > tt.in || c < tt.in {
				t.Fatalf("Floor, Ceil(%v) = %v, %v; want %v, %v", tt.in, f, c, tt.floor, tt.ceil)
			}
			for _, v := range []float64{f, c} {
				s := strconv.FormatFloat(v, 'f', -1, 64)
				if _, frac, ok := strings.Cut(s, "."); (ok && len(frac) > geo.CoordDecimals) || strings.HasPrefix(s, "-0") && v == 0 {
					t.Fatalf("%v prints as %s", v, s)
				}
			}
		})
	}
}
