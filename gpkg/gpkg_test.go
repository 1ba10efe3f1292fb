package gpkg_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/gpkg"
)

// validator is GDAL's GeoPackage validator (python3-gdal), which checks a
// file against every requirement of the specification it knows.
const validator = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"

func write(t *testing.T, points int) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.gpkg")
	w, err := gpkg.Create(ctx, path, "incidents", "test layer", []gpkg.Column{
		{Name: "id", Type: "INTEGER"}, {Name: "title", Type: "TEXT"}, {Name: "at", Type: "DATETIME"}, {Name: "n", Type: "DOUBLE"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= points; i++ {
		pt := orb.Point{44 + float64(i)/10, 33 - float64(i)/10}
		if err := w.Add(ctx, pt, int64(i), "t", time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGDALValidates: a layer with points and an empty one pass GDAL's
// GeoPackage validator, R*Tree extension included.
func TestGDALValidates(t *testing.T) {
	if _, err := os.Stat(validator); err != nil {
		t.Skip("GDAL's validate_gpkg.py (python3-gdal) is not installed")
	}
	for _, n := range []int{3, 0} {
		path := write(t, n)
		if out, err := exec.Command("python3", validator, path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("%d points: validate_gpkg.py: %v\n%s", n, err, out)
		}
	}
}

// TestGeometryHeader: StandardGeoPackageBinary, GeoPackage 1.3 §2.1.3.
func TestGeometryHeader(t *testing.T) {
	b := gpkg.Geometry(orb.Point{47.6625, 30.5489})
	want := []byte{'G', 'P', 0, 1, 0xE6, 0x10, 0, 0, 1, 1, 0, 0, 0} // magic, version, flags, SRS 4326 LE, WKB LE point
	if !bytes.HasPrefix(b, want) || len(b) != 8+21 {
		t.Fatalf("% x", b)
	}
}
