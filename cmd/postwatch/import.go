package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

// importBatch is how many records share one transaction: large enough to
// amortise the commit, small enough to keep memory flat.
const importBatch = 2000

// importRecord is one record read from a file, or why it could not be read.
type importRecord struct {
	where    string // "line 12" or "feature 3"
	incident *domain.Incident
	actors   map[string]string // names of the actors it names, by id (ACLED)
	err      error
}

// importSummary counts what an import did.
type importSummary struct {
	created, updated, rejected int
}

func importFile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	db := fs.String("db", envDefault("db", ""), "database: a SQLite file path")
	format := fs.String("format", envDefault("format", ""), "acled (an ACLED CSV export) or geojson (a FeatureCollection or one Feature per line)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"usage: postwatch import --db DSN --format acled|geojson FILE"}
	}
	read, ok := map[string]func(context.Context, *bufio.Reader, chan<- importRecord) error{
		"geojson": readGeoJSON, "acled": readACLED,
	}[*format]
	if !ok {
		return usageError{fmt.Sprintf("--format %q is not supported; use acled or geojson", *format)}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := openStore(*db, "")
	if err != nil {
		return err
	}
	defer st.Close()

	progress := newProgress(f, stderr)
	records := make(chan importRecord, importBatch)
	readErr := make(chan error, 1)
	go func() {
		readErr <- read(ctx, bufio.NewReaderSize(progress, 1<<20), records)
		close(records)
	}()

	var sum importSummary
	var batch []*domain.Incident
	var where []string
	names := map[string]string{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		results, err := st.ImportIncidents(ctx, batch, names)
		if err != nil {
			return err
		}
		for i, r := range results {
			switch r.Outcome {
			case domain.ImportCreated:
				sum.created++
			case domain.ImportUpdated:
				sum.updated++
			default:
				sum.rejected++
				fmt.Fprintf(stdout, "%s: rejected: %s\n", where[i], r.Err)
			}
		}
		progress.report(sum.created + sum.updated + sum.rejected)
		batch, where = batch[:0], where[:0]
		clear(names)
		return nil
	}
	for rec := range records {
		if rec.err != nil {
			sum.rejected++
			fmt.Fprintf(stdout, "%s: rejected: %s\n", rec.where, rec.err)
			continue
		}
		batch = append(batch, rec.incident)
		where = append(where, rec.where)
		for id, name := range rec.actors {
			names[id] = name
		}
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := <-readErr; err != nil {
		return err
	}
	progress.done()
	fmt.Fprintf(stdout, "imported %s: %d created, %d updated, %d rejected\n", fs.Arg(0), sum.created, sum.updated, sum.rejected)
	return nil
}

// readGeoJSON reads a FeatureCollection, or a sequence of Features one per
// line (newline-delimited or RFC 8142 with 0x1E separators), and sends each
// feature as a record. A feature's "id" becomes its external_id unless it
// has one, so importing the same file again updates instead of duplicating.
func readGeoJSON(ctx context.Context, r *bufio.Reader, out chan<- importRecord) error {
	first, err := peekNonSpace(r)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	send := func(where string, data []byte) {
		inc, id, err := api.DecodeIncidentFeature(data)
		if err == nil && inc.ExternalID == nil && id != "" && id != "null" {
			inc.ExternalID = &id
		}
		out <- importRecord{where: where, incident: inc, err: err}
	}
	if first == '{' {
		isCollection, err := looksLikeCollection(r)
		if err != nil {
			return err
		}
		if isCollection {
			return readFeatureCollection(ctx, r, send)
		}
	}
	line := 0
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		data, err := r.ReadBytes('\n')
		if len(data) > 0 {
			line++
			data = bytes.TrimSpace(bytes.Trim(data, "\x1e"))
			if len(data) > 0 {
				send(fmt.Sprintf("line %d", line), data)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func peekNonSpace(r *bufio.Reader) (byte, error) {
	for {
		b, err := r.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n', 0x1e:
			r.ReadByte()
			continue
		case 0xef: // a UTF-8 byte order mark
			if bom, _ := r.Peek(3); bytes.Equal(bom, []byte{0xef, 0xbb, 0xbf}) {
				r.Discard(3)
				continue
			}
		}
		return b[0], nil
	}
}

// looksLikeCollection tells a FeatureCollection from a first Feature line
// by the first line's content, without consuming it.
func looksLikeCollection(r *bufio.Reader) (bool, error) {
	buf, err := r.Peek(r.Buffered())
	if len(buf) == 0 {
		buf, err = r.Peek(4096)
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			return false, err
		}
	}
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		var probe struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(buf[:i], &probe) == nil {
			return probe.Type == "FeatureCollection", nil
		}
	}
	return bytes.Contains(buf, []byte(`"FeatureCollection"`)), nil
}

// readFeatureCollection streams the features array of a FeatureCollection.
func readFeatureCollection(ctx context.Context, r io.Reader, send func(string, []byte)) error {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not a GeoJSON FeatureCollection: %w", err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not a GeoJSON FeatureCollection: %w", err)
		}
		if key != "features" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("not a GeoJSON FeatureCollection: %w", err)
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return errors.New("FeatureCollection: features is not an array")
		}
		n := 0
		for dec.More() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n++
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("feature %d: %w", n, err)
			}
			send(fmt.Sprintf("feature %d", n), raw)
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	return nil
}

// progress reports rows/s and an ETA on a terminal, from bytes read.
type progress struct {
	r        io.Reader
	w        io.Writer
	total    int64
	read     int64
	start    time.Time
	last     time.Time
	terminal bool
}

func newProgress(f *os.File, w io.Writer) *progress {
	p := &progress{r: f, w: w, start: time.Now()}
	if st, err := f.Stat(); err == nil {
		p.total = st.Size()
	}
	if out, ok := w.(*os.File); ok {
		if st, err := out.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	return n, err
}

func (p *progress) report(rows int) {
	if !p.terminal || time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	elapsed := time.Since(p.start).Seconds()
	rate := float64(rows) / elapsed
	eta := "?"
	if p.read > 0 && p.total > 0 {
		eta = time.Duration(elapsed * float64(p.total-p.read) / float64(p.read) * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%d rows, %.0f rows/s, ETA %s   ", rows, rate, eta)
}

func (p *progress) done() {
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}
