package api

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postwatch/postwatch/geo"
)

// Buffers of the items stream, reused: a writer per page was a tenth of
// what a 100-feature page allocated. A 256 KiB writer holds a page of a
// few hundred features whole (a 100-feature page is about 80 KB), which
// then goes out with its Content-Length in one write instead of seven
// chunked ones.
var (
	streamWriters  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 256<<10) }}
	featureBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

// flushWatch tells whether the stream's buffer has spilled yet.
type flushWatch struct {
	w       io.Writer
	spilled bool
}

func (f *flushWatch) Write(p []byte) (int, error) {
	f.spilled = true
	return f.w.Write(p)
}

// writeFeatureCollection streams a FeatureCollection feature by feature,
// so a 10,000-feature page is never held as one encoded buffer; a page the
// buffer holds whole is sent with its length.
func writeFeatureCollection(w io.Writer, page *featurePage, links []link) error {
	bw := streamWriters.Get().(*bufio.Writer)
	watch := &flushWatch{w: w}
	bw.Reset(watch)
	defer func() {
		bw.Reset(nil)
		streamWriters.Put(bw)
	}()
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	bw.WriteString(`{"type":"FeatureCollection",`)
	// A negative count means the store stopped counting: numberMatched is
	// optional in OGC API – Features, and a guess would mislead clients.
	if page.matched >= 0 {
		bw.WriteString(`"numberMatched":`)
		bw.WriteString(strconv.Itoa(page.matched))
		bw.WriteByte(',')
	}
	bw.WriteString(`"numberReturned":`)
	bw.WriteString(strconv.Itoa(len(page.features)))
	bw.WriteString(`,"timeStamp":"`)
	bw.WriteString(time.Now().UTC().Format(time.RFC3339))
	bw.WriteString(`","links":`)
	if err := enc.Encode(links); err != nil {
		return err
	}
	bw.WriteString(`,"features":[`)
	buf := featureBuffers.Get().(*[]byte)
	defer featureBuffers.Put(buf)
	for i := range page.features {
		if i > 0 {
			bw.WriteByte(',')
		}
		var err error
		if *buf, err = appendFeature((*buf)[:0], &page.features[i]); err != nil {
			return err
		}
		bw.Write(*buf)
	}
	bw.WriteString("]}\n")
	if rw, ok := w.(http.ResponseWriter); ok && !watch.spilled {
		rw.Header().Set("Content-Length", strconv.Itoa(bw.Buffered()))
	}
	return bw.Flush()
}

// incidentCSVHeader is the column order of f=csv, fixed by the contract.
var incidentCSVHeader = []string{"id", "lon", "lat", "type", "title", "occurred_at", "severity", "status",
	"country", "facility_id", "actors", "killed", "injured", "external_id"}

func writeIncidentCSV(w http.ResponseWriter, page *featurePage) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="incidents.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	cw.Write(incidentCSVColumns(page.chained))
	for i := range page.features {
		cw.Write(incidentCSVRow(&page.features[i], page.chained))
	}
	cw.Flush()
}

// incidentCSVColumns are the contract's columns and, under chain
// attribution, an "attribution" column after them with the chain in words.
func incidentCSVColumns(chained bool) []string {
	if chained {
		return append(slices.Clip(incidentCSVHeader), "attribution")
	}
	return incidentCSVHeader
}

// incidentCSVRow is an incident feature in incidentCSVColumns' order.
func incidentCSVRow(f *feature, chained bool) []string {
	p := f.Properties.(*incidentProps)
	actors := make([]string, len(p.Actors))
	for i, a := range p.Actors {
		actors[i] = a.ActorID
	}
	row := []string{
		strconv.FormatInt(f.ID, 10), formatCoord(f.Geometry.Coordinates[0]), formatCoord(f.Geometry.Coordinates[1]),
		csvText(string(p.Type)), csvText(p.Title), csvText(p.OccurredAt.Format(time.RFC3339Nano)), strconv.Itoa(p.Severity),
		csvText(string(p.Status)), csvText(p.Country), formatOptionalID(p.FacilityID), csvText(strings.Join(actors, ";")),
		strconv.Itoa(p.Casualties.Killed), strconv.Itoa(p.Casualties.Injured), csvText(derefString(p.ExternalID)),
	}
	if chained {
		row = append(row, csvText(chainText(p.Attribution)))
	}
	return row
}

var facilityCSVHeader = []string{"id", "lon", "lat", "name", "kind", "country", "city", "alert_radius_m", "posture"}

func writeFacilityCSV(w http.ResponseWriter, page *featurePage) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="facilities.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write(facilityCSVHeader)
	for _, f := range page.features {
		p := f.Properties.(*facilityProps)
		cw.Write([]string{
			strconv.FormatInt(f.ID, 10), formatCoord(f.Geometry.Coordinates[0]), formatCoord(f.Geometry.Coordinates[1]),
			csvText(p.Name), csvText(string(p.Kind)), csvText(p.Country), csvText(p.City),
			strconv.FormatFloat(geo.NoNegativeZero(p.AlertRadiusM), 'f', -1, 64), csvText(string(p.Posture)),
		})
	}
	cw.Flush()
}

// csvText makes s safe as a text cell of a CSV a spreadsheet may open: a
// cell beginning with =, +, -, @, a tab or a carriage return is read as a
// formula by Excel, LibreOffice and Google Sheets, so it gets a leading
// apostrophe, which they show as text (OWASP "CSV Injection"). Every text
// cell of every CSV goes through it; numeric cells are written as numbers
// and never do, so -44.3 stays a longitude.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func formatCoord(v float64) string { return strconv.FormatFloat(geo.NoNegativeZero(v), 'f', -1, 64) }

func formatOptionalID(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
