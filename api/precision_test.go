package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestCoordinatesAreStoredAsServed: a feature is written with at most 7
// decimals, so every write path must store the point it serves; otherwise
// a client cannot find a feature where the API says it is.
func TestCoordinatesAreStoredAsServed(t *testing.T) {
	e := newEnv(t)
	incID := e.createIncident(10, 10, nil)
	facID := e.createFacility(10, 10, "Consulate")
	mergePatch := []string{"Content-Type", "application/merge-patch+json"}

	for _, tt := range []struct {
		name   string
		coll   string
		write  func(t *testing.T, lon, lat float64) int64
		lon    float64
		lat    float64
		served [2]float64
	}{
		{"POST incident", "incidents", func(t *testing.T, lon, lat float64) int64 {
			return e.in(t).createIncident(lon, lat, nil)
		}, 44.123456789, 33.987654321, [2]float64{44.1234568, 33.9876543}},
		{"POST incident rounding to zero from below", "incidents", func(t *testing.T, lon, lat float64) int64 {
			return e.in(t).createIncident(lon, lat, nil)
		}, -0.00000001, -0.00000004, [2]float64{0, 0}},
		{"PUT incident", "incidents", func(t *testing.T, lon, lat float64) int64 {
			e.in(t).do("PUT", fmt.Sprintf("%s/%d", incidentItems, incID), incidentJSON(lon, lat, nil), domain.RoleOfficer).wantStatus(http.StatusOK)
			return incID
		}, 45.123456789, 32.987654321, [2]float64{45.1234568, 32.9876543}},
		{"PATCH incident", "incidents", func(t *testing.T, lon, lat float64) int64 {
			patch := fmt.Sprintf(`{"geometry": {"type": "Point", "coordinates": [%v, %v]}}`, lon, lat)
			e.in(t).do("PATCH", fmt.Sprintf("%s/%d", incidentItems, incID), patch, domain.RoleOfficer, mergePatch...).wantStatus(http.StatusOK)
			return incID
		}, 46.123456789, 31.987654321, [2]float64{46.1234568, 31.9876543}},
		{"import", "incidents", func(t *testing.T, lon, lat float64) int64 {
			ext := "import-1"
			inc := &domain.Incident{Location: [2]float64{lon, lat}, Type: "protest", Title: "Imported",
				OccurredAt: time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC), ExternalID: &ext}
			res, err := e.store.ImportIncidents(context.Background(), []*domain.Incident{inc}, nil)
			if err != nil || len(res) != 1 || res[0].Err != nil {
				t.Fatalf("import: %v %+v", err, res)
			}
			return res[0].ID
		}, 47.123456789, 30.987654321, [2]float64{47.1234568, 30.9876543}},
		{"POST facility", "facilities", func(t *testing.T, lon, lat float64) int64 {
			return e.in(t).createFacility(lon, lat, "Embassy")
		}, 44.123456789, 33.987654321, [2]float64{44.1234568, 33.9876543}},
		{"PUT facility", "facilities", func(t *testing.T, lon, lat float64) int64 {
			e.in(t).do("PUT", fmt.Sprintf("%s/%d", facilityItems, facID), facilityJSON(lon, lat, "Consulate"), domain.RoleAdmin).wantStatus(http.StatusOK)
			return facID
		}, 45.123456789, 32.987654321, [2]float64{45.1234568, 32.9876543}},
		{"PATCH facility", "facilities", func(t *testing.T, lon, lat float64) int64 {
			patch := fmt.Sprintf(`{"geometry": {"type": "Point", "coordinates": [%v, %v]}}`, lon, lat)
			e.in(t).do("PATCH", fmt.Sprintf("%s/%d", facilityItems, facID), patch, domain.RoleAdmin, mergePatch...).wantStatus(http.StatusOK)
			return facID
		}, 46.123456789, 31.987654321, [2]float64{46.1234568, 31.9876543}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.write(t, tt.lon, tt.lat)
			items := "/collections/" + tt.coll + "/items"
			got := e.in(t).do("GET", fmt.Sprintf("%s/%d", items, id), nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()
			if c := fmt.Sprint(dig(got, "geometry", "coordinates")); c != fmt.Sprint([]any{tt.served[0], tt.served[1]}) {
				t.Fatalf("served %s, want %v", c, tt.served)
			}
			num := func(v float64) string { return strconv.FormatFloat(v, 'f', 7, 64) }
			x, y := num(tt.served[0]), num(tt.served[1])
			for _, q := range []string{
				"filter=" + url.QueryEscape("S_EQUALS(geometry,POINT("+x+" "+y+"))"),
				"filter=" + url.QueryEscape("S_INTERSECTS(geometry,POINT("+x+" "+y+"))"),
				"bbox=" + x + "," + y + "," + num(tt.served[0]+1) + "," + num(tt.served[1]+1),
				"bbox=" + num(tt.served[0]-1) + "," + num(tt.served[1]-1) + "," + x + "," + y,
				"near=" + x + "," + y + "&radius=0",
			} {
				if ids := e.in(t).ids(items + "?limit=1000&" + q); !slices.Contains(ids, id) {
					t.Errorf("%s misses feature %d served at %s,%s (found %v)", q, id, x, y, ids)
				}
			}
		})
	}
}

// TestPutOfWhatGetReturnedChangesNothing: QGIS saves a layer with no edit
// by sending back each feature as read, with its ETag as If-Match; that is
// a no-op, not a move of the point by the rounding of what was served.
func TestPutOfWhatGetReturnedChangesNothing(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		url  string
		role domain.Role
	}{
		{"incident", fmt.Sprintf("%s/%d", incidentItems, e.createIncident(44.123456789, 33.987654321, nil)), domain.RoleOfficer},
		{"facility", fmt.Sprintf("%s/%d", facilityItems, e.createFacility(44.123456789, 33.987654321, "Embassy")), domain.RoleAdmin},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			got := e.do("GET", tt.url, nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
			put := e.do("PUT", tt.url, got.Body.String(), tt.role, "If-Match", got.Header().Get("ETag"), "Content-Type", "application/geo+json").wantStatus(http.StatusOK)
			put.wantHeader("ETag", `"1"`)
			if c, want := fmt.Sprint(dig(put.json(), "geometry", "coordinates")), fmt.Sprint(dig(got.json(), "geometry", "coordinates")); c != want {
				t.Errorf("PUT moved the point from %s to %s", want, c)
			}
			if vs := e.do("GET", tt.url+"/history", nil, domain.RoleAnalyst).wantStatus(http.StatusOK).json()["versions"].([]any); len(vs) != 1 {
				t.Errorf("%d versions after a PUT of what GET returned, want 1", len(vs))
			}
		})
	}
}
