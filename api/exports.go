package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/gpkg"
)

// exportPath is the whole-export route (CONTRACT.md §10).
const exportPath = "/exports/incidents"

// exportPageSize is how many incidents one step of an export's walk reads:
// enough that the per-query cost vanishes, few enough that an export's
// memory stays that of one page whatever the number of matches.
const exportPageSize = 1000

// exportFormats are the formats of an export, with their media type and
// file extension.
var exportFormats = map[string][2]string{
	"csv":     {"text/csv; charset=utf-8", "csv"},
	"geojson": {geoJSONType, "geojson"},
	"stix":    {stixContentType, "json"},
	"gpkg":    {"application/geopackage+sqlite3", "gpkg"},
}

// exportFormatAccepted is the export format Accept weighs most (RFC 9110
// §12.5.1) when f= is not given, ties going to csv, geojson, stix, gpkg in
// that order; "" when Accept takes none of their types.
func exportFormatAccepted(c *gin.Context) string {
	h := c.GetHeader("Accept")
	if strings.TrimSpace(h) == "" {
		return ""
	}
	c.Writer.Header().Add("Vary", "Accept")
	ranges := ParseAccept(h)
	best, bestQ := "", 0.0
	for _, f := range []string{"csv", "geojson", "stix", "gpkg"} {
		mt, _, _ := strings.Cut(exportFormats[f][0], ";")
		// Only a range naming the type or its subtypes picks an export:
		// */* says nothing about which file to make.
		typ, _, _ := strings.Cut(mt, "/")
		if q := qualityOf(ranges, mt); q > bestQ && slices.ContainsFunc(ranges, func(r MediaRange) bool { return r.Type == typ }) {
			best, bestQ = f, q
		}
	}
	return best
}

// incidentWalk reads every incident matching a filter, page after page by
// cursor in the items' sort order, each page with its chains when the
// filter asks for chain attribution. Each page's query gets the request
// timeout of its own, so a long export is bounded per step, not in total.
//
// The walk is not one snapshot, and writes during it move incidents between
// pages: one moved back to the pages ahead would come up twice, and one
// moved forward to those already read would be missed. So the walk writes
// each incident once (seen), and once its pages are done it catches up:
// the same filter newest change first, down to what changed before the walk
// began, adds what it missed, at the end.
type incidentWalk struct {
	s      *Server
	f      domain.IncidentFilter
	chains *domain.ChainFinder
	done   bool
	// seen has bit id set for every incident the walk returned.
	seen []uint64
	// began is when the walk began, less catchUpSkew; catchingUp is set
	// once the pages in the requested order are done.
	began      time.Time
	catchingUp bool
}

// catchUpSkew allows for clocks: updated_at is written by whichever
// replica made the change.
const catchUpSkew = 5 * time.Second

func newIncidentWalk(s *Server, f domain.IncidentFilter) *incidentWalk {
	return &incidentWalk{s: s, f: f, chains: s.chainFinder(f), began: time.Now().Add(-catchUpSkew)}
}

// next returns the next page of features; none once the walk is over.
func (w *incidentWalk) next(ctx context.Context) ([]feature, error) {
	for !w.done {
		items, err := w.nextHits(ctx)
		if err != nil {
			return nil, err
		}
		if len(items) > 0 {
			return w.s.incidentFeatures(ctx, items, w.chains)
		}
	}
	return nil, nil
}

// nextHits reads the next page and keeps the incidents not written yet.
func (w *incidentWalk) nextHits(ctx context.Context) ([]domain.IncidentHit, error) {
	if w.s.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.s.requestTimeout)
		defer cancel()
	}
	page, err := w.s.incidents.FindIncidents(ctx, w.f)
	if err != nil {
		return nil, err
	}
	w.f.Page.Cursor = page.Next
	var items []domain.IncidentHit
	for _, inc := range page.Items {
		if w.catchingUp && inc.UpdatedAt.Before(w.began) {
			w.done = true // everything after changed before the walk began
			break
		}
		if w.firstSight(inc.ID) {
			items = append(items, inc)
		}
	}
	if page.Next == nil {
		if w.catchingUp {
			w.done = true
		} else {
			w.catchingUp = true
			w.f.SortBy, w.f.Page.Cursor = "-updated_at", nil
		}
	}
	return items, nil
}

// firstSight marks id seen and reports whether it was not before: a bit
// per id up to the largest, 125 KB for a million.
func (w *incidentWalk) firstSight(id int64) bool {
	word, bit := int(id/64), uint64(1)<<(id%64)
	if word >= len(w.seen) {
		w.seen = append(w.seen, make([]uint64, word+1-len(w.seen))...)
	}
	if w.seen[word]&bit != 0 {
		return false
	}
	w.seen[word] |= bit
	return true
}

// exportIncidents streams every incident matching the items filter of the
// query (CONTRACT.md §10) as a file: csv, geojson, stix or gpkg. The first
// page is read before any byte is written, so a bad filter or a failing
// database is still a problem+json answer; a failure later cuts the
// connection (abortStream). The length of a stream is unknown until its
// end, so only the GeoPackage, written whole to a temporary file first,
// carries a Content-Length.
func (s *Server) exportIncidents(c *gin.Context) {
	q := c.Request.URL.Query()
	format := q.Get("f")
	if format == "" {
		format = exportFormatAccepted(c)
	}
	kind, ok := exportFormats[format]
	if !ok {
		s.writeError(c, domain.InvalidField("f", "%q is not one of csv, geojson, stix, gpkg (or Accept one of their types)", format))
		return
	}
	f, err := ParseIncidentFilter(q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f.Page = domain.Page{Limit: exportPageSize}
	walk := newIncidentWalk(s, f)
	ctx := c.Request.Context()
	first, err := walk.next(ctx)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if format == "gpkg" {
		s.exportGeoPackage(c, walk, first, chained(f))
		return
	}
	var bundle *stixBundle
	if format == "stix" {
		if bundle, err = s.newSTIXBundle(ctx); err != nil {
			s.writeError(c, err)
			return
		}
	}
	c.Header("Content-Type", kind[0])
	c.Header("Content-Disposition", `attachment; filename="incidents.`+kind[1]+`"`)
	c.Status(http.StatusOK)
	out := &deadlineWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), step: s.exportStepTimeout()}
	switch format {
	case "csv":
		err = exportCSV(ctx, out, walk, first, chained(f))
	case "geojson":
		err = exportGeoJSON(ctx, out, walk, first)
	case "stix":
		err = exportSTIX(ctx, out, bundle, walk, first)
	}
	if err != nil {
		s.abortStream(c, err)
	}
}

// exportStepTimeout is how long writing one page of an export may take: a
// client that stops reading is cut off then, not at the server's write
// timeout, which a long export would outlast.
func (s *Server) exportStepTimeout() time.Duration {
	return max(s.requestTimeout, DefaultRequestTimeout)
}

// deadlineWriter pushes the connection's write deadline forward at every
// page of an export, so a long export that makes progress is never cut by
// the server's WriteTimeout. Writers that keep no deadline (tests) ignore it.
type deadlineWriter struct {
	w    io.Writer
	rc   *http.ResponseController
	step time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) { return d.w.Write(p) }

// page marks the start of a page and flushes what came before to the client.
func (d *deadlineWriter) page() {
	d.rc.SetWriteDeadline(time.Now().Add(d.step))
	d.rc.Flush()
}

func exportCSV(ctx context.Context, out *deadlineWriter, walk *incidentWalk, page []feature, withChain bool) error {
	cw := csv.NewWriter(out)
	cw.UseCRLF = true // RFC 4180
	cw.Write(incidentCSVColumns(withChain))
	for len(page) > 0 {
		out.page()
		for i := range page {
			cw.Write(incidentCSVRow(&page[i], withChain))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		var err error
		if page, err = walk.next(ctx); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func exportGeoJSON(ctx context.Context, out *deadlineWriter, walk *incidentWalk, page []feature) error {
	bw := bufio.NewWriterSize(out, 32<<10)
	bw.WriteString(`{"type":"FeatureCollection","timeStamp":"` + time.Now().UTC().Format(time.RFC3339) + `","features":[`)
	var buf []byte
	n := 0
	for len(page) > 0 {
		out.page()
		for i := range page {
			if n > 0 {
				bw.WriteByte(',')
			}
			n++
			var err error
			if buf, err = appendFeature(buf[:0], &page[i]); err != nil {
				return err
			}
			bw.Write(buf)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		var err error
		if page, err = walk.next(ctx); err != nil {
			return err
		}
	}
	bw.WriteString(`],"numberMatched":` + strconv.Itoa(n) + `,"numberReturned":` + strconv.Itoa(n) + "}\n")
	return bw.Flush()
}

func exportSTIX(ctx context.Context, out *deadlineWriter, b *stixBundle, walk *incidentWalk, page []feature) error {
	b.start(out)
	for len(page) > 0 {
		out.page()
		if err := b.incidents(ctx, page); err != nil {
			return err
		}
		var err error
		if page, err = walk.next(ctx); err != nil {
			return err
		}
	}
	return b.close(ctx)
}

// exportGeoPackage writes the walk into a GeoPackage in a temporary file,
// since SQLite needs a file it can seek in, and then sends the file with
// its length. The layer incidents has the CSV's columns, id its primary key.
func (s *Server) exportGeoPackage(c *gin.Context, walk *incidentWalk, page []feature, withChain bool) {
	ctx := c.Request.Context()
	dir, err := os.MkdirTemp("", "postwatch-export-")
	if err != nil {
		s.writeError(c, err)
		return
	}
	defer os.RemoveAll(dir)
	path := dir + "/incidents.gpkg"
	if err := writeGeoPackage(ctx, path, walk, page, withChain); err != nil {
		s.writeError(c, err)
		return
	}
	file, err := os.Open(path)
	if err != nil {
		s.writeError(c, err)
		return
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Content-Type", exportFormats["gpkg"][0])
	c.Header("Content-Disposition", `attachment; filename="incidents.gpkg"`)
	c.Header("Content-Length", strconv.FormatInt(info.Size(), 10))
	c.Status(http.StatusOK)
	http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(s.exportStepTimeout() + time.Duration(info.Size()>>20)*time.Second))
	if _, err := io.Copy(c.Writer, file); err != nil {
		s.abortStream(c, err)
	}
}

func writeGeoPackage(ctx context.Context, path string, walk *incidentWalk, page []feature, withChain bool) error {
	types := map[string]string{"id": "INTEGER", "lon": "DOUBLE", "lat": "DOUBLE", "occurred_at": "DATETIME",
		"severity": "INTEGER", "facility_id": "INTEGER", "killed": "INTEGER", "injured": "INTEGER"}
	var cols []gpkg.Column
	for _, name := range incidentCSVColumns(withChain) {
		typ := types[name]
		if typ == "" {
			typ = "TEXT"
		}
		cols = append(cols, gpkg.Column{Name: name, Type: typ})
	}
	w, err := gpkg.Create(ctx, path, "incidents", "postwatch incidents", cols)
	if err != nil {
		return err
	}
	for len(page) > 0 {
		for i := range page {
			f := &page[i]
			p := f.Properties.(*incidentProps)
			actors := make([]string, len(p.Actors))
			for j, a := range p.Actors {
				actors[j] = a.ActorID
			}
			values := []any{f.ID, f.Geometry.Coordinates[0], f.Geometry.Coordinates[1], string(p.Type), p.Title, p.OccurredAt,
				p.Severity, string(p.Status), p.Country, p.FacilityID, strings.Join(actors, ";"),
				p.Casualties.Killed, p.Casualties.Injured, p.ExternalID}
			if withChain {
				values = append(values, chainText(p.Attribution))
			}
			if err := w.Add(ctx, f.Geometry.Coordinates, values...); err != nil {
				w.Abort()
				return err
			}
		}
		if page, err = walk.next(ctx); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close(ctx)
}
