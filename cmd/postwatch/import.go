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
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store/sqlite"
)

// importChunkRecords is how many consecutive records of the file travel
// together through the import's pipeline: enough to make the hand-offs
// between goroutines rare, few enough to keep memory flat, and one
// multi-row INSERT a chunk (store/sqlite's maxRowsPerInsert). The chunks
// in flight are most of what the collector marks: with 1,000 records an
// ACLED import's live heap kept it at its limit, collecting every few MB,
// and took a third more CPU time (docs/performance.md).
const importChunkRecords = 256

// acledImportCacheMiB is the SQLite page cache of an ACLED import. Its
// records are large (every cell kept in the extra column and again in the
// history snapshot: about 4 KB of table pages each), so a transaction's new
// pages alone outgrow the 192 MiB that GeoJSON imports keep the indexes in;
// 64 MiB cost no CPU over 300,000 rows and keeps the process within 250 MB
// (docs/performance.md, "ACLED import").
const acledImportCacheMiB = 64

// importHeapLimit is the Go heap an import aims to stay under (a soft
// limit: the live chunks always fit, the collector just runs more often).
// An ACLED import keeps to less, within its 250 MB: on the machine of
// 2026-11-30 the 128 MiB let its process reach 257 MiB, and 96 MiB held
// it at 202–205 MiB, flat (docs/performance.md, sitting of 08:58).
const (
	importHeapLimit      = 128 << 20
	acledImportHeapLimit = 96 << 20
)

// importRecord is one record read from a file, or why it could not be read.
type importRecord struct {
	where    string // "line 12" or "feature 3"
	raw      []byte // a GeoJSON feature not decoded yet
	incident *domain.Incident
	actors   map[string]string // names of the actors it names, by id (ACLED)
	err      error
}

// importChunk is a run of consecutive records: read in order, decoded and
// prepared by any worker, written and reported in order. P is the
// engine's form of a prepared batch (see importWriter).
type importChunk[P any] struct {
	records  []importRecord
	prepared P             // the records read without error
	ready    chan struct{} // closed once prepared is set
}

// importWriter is how one engine takes an import's batches: prepare runs
// on the workers, stream writes the prepared batches in order and reports
// each once committed.
type importWriter[P any] struct {
	prepare func(batch []*domain.Incident, actorNames map[string]string) P
	stream  func(ctx context.Context, in <-chan P, done func(P, []domain.ImportResult)) error
}

// sqliteWriter is SQLite's fast path: records encoded on the workers,
// several batches to a transaction on the one writer connection.
func sqliteWriter(st *sqlite.Store) importWriter[*sqlite.PreparedIncidents] {
	return importWriter[*sqlite.PreparedIncidents]{prepare: sqlite.PrepareIncidents, stream: st.ImportStream}
}

// importBatch is a batch for a store's ImportIncidents.
type importBatch struct {
	incidents  []*domain.Incident
	actorNames map[string]string
}

// batchWriter writes each batch in one ImportIncidents transaction, the
// generic path of any domain.IncidentImporter (PostGIS).
func batchWriter(st domain.IncidentImporter) importWriter[importBatch] {
	return importWriter[importBatch]{
		prepare: func(batch []*domain.Incident, names map[string]string) importBatch { return importBatch{batch, names} },
		stream: func(ctx context.Context, in <-chan importBatch, done func(importBatch, []domain.ImportResult)) error {
			for b := range in {
				results, err := st.ImportIncidents(ctx, b.incidents, b.actorNames)
				if err != nil {
					return err
				}
				done(b, results)
			}
			return ctx.Err()
		},
	}
}

// importSummary counts what an import did, by record: a monadic ACLED
// event's rows are one record.
type importSummary struct {
	created, updated, unchanged, rejected int
}

func (s importSummary) records() int { return s.created + s.updated + s.unchanged + s.rejected }

// rejectedError is an import's result when some records were rejected: the
// good ones are stored, and the command exits non-zero (CONTRACT.md §5).
type rejectedError struct{ n int }

func (e rejectedError) Error() string {
	if e.n == 1 {
		return "1 record rejected"
	}
	return fmt.Sprintf("%d records rejected", e.n)
}

// importFile runs a pipeline: one goroutine reads the file into chunks,
// workers on the other cores decode, validate and prepare each chunk for
// the engine (importWriter), and the store writes the chunks in file order
// while the next are prepared. Results are printed as their transactions
// commit: rejected records by line on stdout, or in the file --rejects
// names. It returns a rejectedError when any record was rejected.
func importFile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	db := fs.String("db", envDefault("db", ""), "database: a SQLite file path or a postgres:// URL")
	format := fs.String("format", envDefault("format", ""), "acled (an ACLED CSV export) or geojson (a FeatureCollection or one Feature per line)")
	rejectsPath := fs.String("rejects", envDefault("rejects", ""), "write the rejected records, by line, to this file instead of stdout")
	alertWindow := fs.String("alert-window", envDefault("alert-window", "72h"), "records that occurred within this long before the import alert the facilities near them, as serve's writes do")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"usage: postwatch import --db DSN --format acled|geojson [--rejects FILE] FILE"}
	}
	if *rejectsPath != "" {
		if err := checkRejectsPath(*rejectsPath, fs.Arg(0), *db); err != nil {
			return err
		}
	}
	read, ok := map[string]func(context.Context, *bufio.Reader, func(importRecord)) error{
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
	if *format == "geojson" {
		if err := checkCollectionCRS(f); err != nil {
			return err
		}
	}
	window, err := parseAlertWindow(*alertWindow)
	if err != nil {
		return err
	}
	opts := sqlite.Options{NoGrid: true, AlertWindow: window}
	heapLimit := int64(importHeapLimit)
	if *format == "acled" {
		opts.ImportCacheMiB = acledImportCacheMiB
		heapLimit = acledImportHeapLimit
		// Events ACLED did not revise keep what was edited in postwatch.
		ctx = domain.WithSourceImport(ctx)
	}
	st, err := openStoreWith(ctx, *db, opts, 0)
	if err != nil {
		return err
	}
	defer st.Close()
	rejects := bufio.NewWriter(stdout)
	var rejectsFile *os.File
	if *rejectsPath != "" {
		if rejectsFile, err = os.Create(*rejectsPath); err != nil {
			return err
		}
		defer rejectsFile.Close() // closed and checked below unless the import fails
		rejects = bufio.NewWriter(rejectsFile)
	}
	defer rejects.Flush()
	var sum importSummary
	if lite, ok := st.(*sqlite.Store); ok {
		sum, err = runImport(ctx, f, read, sqliteWriter(lite), rejects, stderr, heapLimit)
	} else {
		sum, err = runImport(ctx, f, read, batchWriter(st), rejects, stderr, heapLimit)
	}
	if errors.Is(err, context.Canceled) {
		// Committed transactions stay; records are matched by external_id,
		// so the same import again completes the file.
		return fmt.Errorf("import interrupted after %d records were committed (%d created, %d updated, %d unchanged, %d rejected); import the file again to finish it: %w",
			sum.records(), sum.created, sum.updated, sum.unchanged, sum.rejected, err)
	}
	if err != nil {
		return err
	}
	if err := analyzeBulkLoad(ctx, st); err != nil {
		return err
	}
	if err := rejects.Flush(); err != nil {
		return fmt.Errorf("writing the rejected records: %w", err)
	}
	if rejectsFile != nil {
		if err := rejectsFile.Close(); err != nil {
			return fmt.Errorf("writing the rejected records: %w", err)
		}
	}
	fmt.Fprintf(stdout, "imported %s: %d created, %d updated, %d unchanged, %d rejected\n", fs.Arg(0), sum.created, sum.updated, sum.unchanged, sum.rejected)
	if sum.rejected > 0 {
		if *rejectsPath != "" {
			fmt.Fprintf(stdout, "rejected records: %s\n", *rejectsPath)
		}
		return rejectedError{sum.rejected}
	}
	return nil
}

// checkRejectsPath refuses a --rejects file that is the input or one of
// the SQLite database's files: creating it would truncate them before the
// import reads or opens them. A file is the same when its cleaned absolute
// path is, or, when both exist, when os.SameFile says so (links, another
// spelling of the path).
func checkRejectsPath(rejects, input, db string) error {
	others := map[string]string{input: "the input file"}
	if db != "" && !isPostgres(db) {
		// sqlite.Open takes a path or a file: URI with parameters.
		path := strings.TrimPrefix(db, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			others[path+suffix] = "the database file " + path + suffix
		}
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return filepath.Clean(p)
	}
	rejStat, rejErr := os.Stat(rejects)
	for path, what := range others {
		same := abs(path) == abs(rejects)
		if !same && rejErr == nil {
			if st, err := os.Stat(path); err == nil {
				same = os.SameFile(st, rejStat)
			}
		}
		if same {
			return usageError{fmt.Sprintf("--rejects %s is %s: writing the rejected records there would destroy it", rejects, what)}
		}
	}
	return nil
}

// runImport is importFile's pipeline on one engine's writer; it reports
// rejected records on rejects as their transactions commit, and keeps the
// Go heap near heapLimit bytes.
func runImport[P any](ctx context.Context, f *os.File, read func(context.Context, *bufio.Reader, func(importRecord)) error,
	w importWriter[P], rejects io.Writer, stderr io.Writer, heapLimit int64) (importSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Decoding allocates about 9 KB a record, nearly all of it garbage at
	// once, while little stays live (the chunks in flight, about 25 MB):
	// collecting at 5x the live heap instead of 2x gives the writer's core
	// back most of the time the collector took on it (1M lines: 42 s to
	// 38–40 s), and the heap stays under about 120 MB. GOGC, when set,
	// decides.
	if _, set := os.LookupEnv("GOGC"); !set {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	// ACLED records are larger (every cell kept as an original value), so
	// five times their live chunks reached 220 MB; a soft limit makes the
	// collector run sooner when the heap nears it, whatever the records'
	// size. GOMEMLIMIT, when set, decides.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(heapLimit))
	}

	// Chunks in flight are bounded by the channels' capacities.
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan *importChunk[P], workers)
	ordered := make(chan *importChunk[P], 2*workers)
	progress := newProgress(f, stderr)
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		c := &importChunk[P]{ready: make(chan struct{})}
		send := func() {
			select {
			case ordered <- c:
				jobs <- c // the workers never wait on ordered, so this cannot block for good
			case <-ctx.Done():
			}
			c = &importChunk[P]{ready: make(chan struct{})}
		}
		err := read(ctx, bufio.NewReaderSize(progress, 1<<20), func(rec importRecord) {
			c.records = append(c.records, rec)
			if len(c.records) == importChunkRecords {
				send()
			}
		})
		if len(c.records) > 0 {
			send()
		}
		readErr <- err
	}()
	for range workers {
		go func() {
			for c := range jobs {
				prepareChunk(c, w.prepare)
			}
		}()
	}

	// The store reports each prepared batch once its transaction commits,
	// in the order they were sent: written is that queue.
	var mu sync.Mutex
	var written []*importChunk[P]
	prepared := make(chan P)
	go func() {
		defer close(prepared)
		for c := range ordered {
			select {
			case <-c.ready:
			case <-ctx.Done():
				return
			}
			mu.Lock()
			written = append(written, c)
			mu.Unlock()
			select {
			case prepared <- c.prepared:
			case <-ctx.Done():
				return
			}
		}
	}()
	var sum importSummary
	err := w.stream(ctx, prepared, func(_ P, results []domain.ImportResult) {
		mu.Lock()
		c := written[0]
		written = written[1:]
		mu.Unlock()
		for _, rec := range c.records {
			if rec.err == nil {
				r := results[0]
				results = results[1:]
				switch r.Outcome {
				case domain.ImportCreated:
					sum.created++
					continue
				case domain.ImportUpdated:
					sum.updated++
					continue
				case domain.ImportUnchanged:
					sum.unchanged++
					continue
				}
				rec.err = r.Err
			}
			sum.rejected++
			fmt.Fprintf(rejects, "%s: rejected: %s\n", rec.where, rec.err)
		}
		progress.report(sum.records())
	})
	if err != nil {
		return sum, err
	}
	if err := <-readErr; err != nil {
		return sum, err
	}
	progress.done(sum.records())
	return sum, nil
}

// prepareChunk decodes the chunk's GeoJSON features and prepares the
// records read without error for the store, keeping of each record only
// where it was and why it was rejected.
func prepareChunk[P any](c *importChunk[P], prepare func([]*domain.Incident, map[string]string) P) {
	batch := make([]*domain.Incident, 0, len(c.records))
	names := map[string]string{}
	for i := range c.records {
		rec := &c.records[i]
		if rec.raw != nil {
			rec.incident, rec.err = decodeFeature(rec.raw)
		}
		if rec.err == nil {
			batch = append(batch, rec.incident)
			for id, name := range rec.actors {
				names[id] = name
			}
		}
		rec.raw, rec.incident, rec.actors = nil, nil, nil
	}
	c.prepared = prepare(batch, names)
	close(c.ready)
}

// decodeFeature decodes one GeoJSON feature like the API does. A feature's
// "id" becomes its external_id unless it has one, so importing the same
// file again updates instead of duplicating.
func decodeFeature(data []byte) (*domain.Incident, error) {
	inc, id, err := api.DecodeIncidentFeature(data)
	if err == nil && inc.ExternalID == nil && id != "" && id != "null" {
		inc.ExternalID = &id
	}
	return inc, err
}

// readGeoJSON reads a FeatureCollection, or a sequence of Features one per
// line (newline-delimited or RFC 8142 with 0x1E separators), and emits each
// feature, not yet decoded, as a record.
func readGeoJSON(ctx context.Context, r *bufio.Reader, emit func(importRecord)) error {
	first, err := peekNonSpace(r)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	send := func(where string, data []byte) {
		emit(importRecord{where: where, raw: data})
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
				send("line "+strconv.Itoa(line), data)
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
	lr := &lineCounter{r: r}
	dec := json.NewDecoder(lr)
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not a GeoJSON FeatureCollection: %w", err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return cutShort(lr, dec, err)
		}
		if key != "features" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return cutShort(lr, dec, err)
			}
			// A collection's crs applies to every feature: one that is not
			// CRS84 refuses the file. checkCollectionCRS has found it
			// wherever it stands in a file; this catches it in a stream
			// (stdin), where one written after the features comes too late
			// to hold them back, and the import fails all the same.
			if key == "crs" {
				if err := api.CheckCRS(skip, "crs"); err != nil {
					return fmt.Errorf("line %d: %w", lr.lineAt(dec), err)
				}
			}
			continue
		}
		if tok, err := dec.Token(); err != nil {
			return cutShort(lr, dec, err)
		} else if tok != json.Delim('[') {
			return fmt.Errorf("line %d: FeatureCollection: features is not an array", lr.lineAt(dec))
		}
		for dec.More() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			where := fmt.Sprintf("line %d", lr.startLine(dec))
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			send(where, raw)
		}
		if _, err := dec.Token(); err != nil {
			return cutShort(lr, dec, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the collection's closing brace
		return cutShort(lr, dec, err)
	}
	// Only spaces may follow: more text is a second value the import
	// would otherwise drop without a word.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("line %d: text after the FeatureCollection's closing brace", lr.lineAt(dec))
	}
	return nil
}

// cutShort is the error of a collection that ends before its brackets
// close, or breaks, with the line the decoder stopped on.
func cutShort(lr *lineCounter, dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("line %d: the FeatureCollection is cut short: it ends before its brackets close", lr.lineAt(dec))
	}
	return fmt.Errorf("line %d: %w", lr.lineAt(dec), err)
}

// lineCounter counts the lines a json.Decoder has read, so an error about
// a member of the collection itself can name its line.
type lineCounter struct {
	r     io.Reader
	lines int // newlines read so far, including what the decoder buffers
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.lines += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

// lineAt is the 1-based line of the decoder's position: the newlines read
// less those still in its buffer.
func (l *lineCounter) lineAt(dec *json.Decoder) int {
	rest, _ := io.ReadAll(dec.Buffered())
	return l.lines - bytes.Count(rest, []byte{'\n'}) + 1
}

// startLine is the 1-based line on which the decoder's next value begins,
// past the spaces and the comma before it: the line a feature of a
// collection is reported by (CONTRACT §1, bad rows by line number).
func (l *lineCounter) startLine(dec *json.Decoder) int {
	rest, _ := io.ReadAll(dec.Buffered())
	lead := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n,"))
	return l.lines - bytes.Count(rest[lead:], []byte{'\n'}) + 1
}

// progress reports records/s and, when the file's size is known, an ETA
// from the bytes read so far: on a terminal one line redrawn twice a
// second, elsewhere (a log, a pipe) one line every progressLogEvery.
type progress struct {
	r        io.Reader
	w        io.Writer
	total    int64
	read     atomic.Int64 // the reader's goroutine adds, the writer's reads
	start    time.Time
	last     time.Time
	terminal bool
}

// progressLogEvery spaces progress lines when stderr is not a terminal.
var progressLogEvery = 5 * time.Second

func newProgress(f *os.File, w io.Writer) *progress {
	p := &progress{r: f, w: w, start: time.Now()}
	p.last = p.start
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
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
	p.read.Add(int64(n))
	return n, err
}

// report shows how many records are done, when it is time to.
func (p *progress) report(records int) {
	every := progressLogEvery
	if p.terminal {
		every = 500 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.write(records, false)
}

func (p *progress) write(records int, final bool) {
	elapsed := time.Since(p.start).Seconds()
	line := fmt.Sprintf("import: %d records, %.0f records/s", records, float64(records)/elapsed)
	if read := p.read.Load(); !final && read > 0 && p.total > 0 {
		eta := time.Duration(elapsed * float64(p.total-read) / float64(read) * float64(time.Second)).Round(time.Second)
		line += fmt.Sprintf(", %.0f%%, ETA %s", 100*float64(read)/float64(p.total), eta)
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s   ", line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// done writes the total: the last state of the line on a terminal, ended;
// elsewhere a last line, also after an import shorter than
// progressLogEvery, so a log always says how many records were done.
func (p *progress) done(records int) {
	p.write(records, true)
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}
