package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// Margins within which a candidate's box leaves a test in doubt. The tree
// rounds its 32-bit floats outwards, so the exact value always lies in the
// box; the margins only absorb rounding in the comparisons, and wider ones
// cost nothing but a few more exact checks.
const (
	degreeMargin = 1e-5
	meterMargin  = 5.0
	timeMargin   = 1e-6 // years: about 30 s
)

// microsPerTreeYear converts occurred_at to the tree's time axis, years
// since 1970, exactly as the triggers in migrate.go do.
const microsPerTreeYear = 31557600e6

func treeTime(us int64) float64 { return float64(us) / microsPerTreeYear }

// candidate is an R*Tree entry: an incident id and the box around its
// coordinates and time, read from the tree's nodes without touching rows.
type candidate struct {
	id                             int64
	minLon, maxLon, minLat, maxLat float64
	minT, maxT                     float64 // years since 1970
}

// findInTree answers a query whose conditions are all spatial or temporal,
// the dashboards' hot path, from the R*Tree's nodes: it counts the
// candidates (up to TreeSortMax+1), collects them when they are within
// that, settles each test from the candidate's box where the box decides it,
// reads the exact values of the few it does not, and reads rows only for
// the page. More candidates than that means a large result, which
// walkTimeIndex pages faster.
func (s *Store) findInTree(ctx context.Context, f domain.IncidentFilter, o order) (*domain.IncidentPage, error) {
	bounds := f.BBox
	if bounds == nil {
		bounds = geoRadiusBounds(f.Near)
	}
	// Counting inside SQLite first keeps a large result from carrying
	// thousands of candidates through database/sql only to walk the index.
	q, args := treeQuery("1", bounds, f.Time)
	var n int
	if err := store.FirstRow(s.read.WithContext(ctx).Raw(`SELECT count(*) FROM (`+q+` LIMIT ?)`,
		append(args, s.opts.TreeSortMax+1)...).Rows()).Scan(&n); err != nil {
		return nil, err
	}
	if n > s.opts.TreeSortMax {
		w, err := s.incidentWhere(ctx, f)
		if err != nil {
			return nil, err
		}
		matched, err := s.countMatches(ctx, f, w)
		if err != nil {
			return nil, err
		}
		return s.walkTimeIndex(ctx, f, o, bounds, matched)
	}
	cands, err := s.treeCandidates(ctx, bounds, f.Time)
	if err != nil {
		return nil, err
	}
	var doubtful []int64
	isDoubtful := map[int64]bool{}
	kept := cands[:0]
	for _, c := range cands {
		switch c.matches(f, bounds) {
		case yes:
			kept = append(kept, c)
		case maybe:
			kept = append(kept, c)
			doubtful = append(doubtful, c.id)
			isDoubtful[c.id] = true
		}
	}
	if len(doubtful) > 0 {
		rows, err := s.rowsByID(ctx, doubtful)
		if err != nil {
			return nil, err
		}
		settled := kept[:0]
		for _, c := range kept {
			if isDoubtful[c.id] {
				r, ok := rows[c.id]
				if !ok || !exactMatch(r, f, bounds) {
					continue // out, or deleted since the tree was read
				}
				c.minT, c.maxT = treeTime(r.OccurredAt), treeTime(r.OccurredAt)
			}
			settled = append(settled, c)
		}
		kept = settled
	}
	matched := len(kept)
	page, err := s.treePage(ctx, f, o, kept)
	if err != nil {
		return nil, err
	}
	page.Matched = matched
	return page, nil
}

// treeQuery selects cols from the incidents R*Tree entries that overlap
// bounds and, when set, the time range: a UNION ALL with one SELECT per box.
func treeQuery(cols string, bounds []orb.Bound, tr *domain.TimeRange) (string, []any) {
	var parts []string
	var args []any
	for _, b := range bounds {
		q := `SELECT ` + cols + ` FROM incidents_rtree WHERE min_lon <= ? AND max_lon >= ? AND min_lat <= ? AND max_lat >= ?`
		args = append(args, b.Max[0], b.Min[0], b.Max[1], b.Min[1])
		if tr != nil && tr.Start != nil {
			q += ` AND max_t >= ?`
			args = append(args, treeTime(micros(*tr.Start))-timeMargin)
		}
		if tr != nil && tr.End != nil {
			q += ` AND min_t <= ?`
			args = append(args, treeTime(micros(*tr.End))+timeMargin)
		}
		parts = append(parts, q)
	}
	return strings.Join(parts, " UNION ALL "), args
}

// treeCandidates reads the incidents R*Tree entries in bounds and, when
// set, the time range.
func (s *Store) treeCandidates(ctx context.Context, bounds []orb.Bound, tr *domain.TimeRange) ([]candidate, error) {
	q, args := treeQuery("id, min_lon, max_lon, min_lat, max_lat, min_t, max_t", bounds, tr)
	rows, err := s.read.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.minLon, &c.maxLon, &c.minLat, &c.maxLat, &c.minT, &c.maxT); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type verdict int

const (
	no verdict = iota
	maybe
	yes
)

// matches settles the filter's tests from the candidate's box: yes or no
// when the box is wholly in or out, maybe when it straddles a boundary.
func (c *candidate) matches(f domain.IncidentFilter, bounds []orb.Bound) verdict {
	v := yes
	in := no
	for _, b := range bounds {
		switch {
		case c.minLon >= b.Min[0]+degreeMargin && c.maxLon <= b.Max[0]-degreeMargin &&
			c.minLat >= b.Min[1]+degreeMargin && c.maxLat <= b.Max[1]-degreeMargin:
			in = yes
		case c.maxLon >= b.Min[0]-degreeMargin && c.minLon <= b.Max[0]+degreeMargin &&
			c.maxLat >= b.Min[1]-degreeMargin && c.minLat <= b.Max[1]+degreeMargin:
			in = max(in, maybe)
		}
	}
	v = min(v, in)
	if n := f.Near; n != nil {
		d := geo.Distance(n.Center, orb.Point{(c.minLon + c.maxLon) / 2, (c.minLat + c.maxLat) / 2})
		switch {
		case d > n.RadiusM+meterMargin:
			v = no
		case d > n.RadiusM-meterMargin:
			v = min(v, maybe)
		}
	}
	if t := f.Time; t != nil {
		if t.Start != nil {
			start := treeTime(micros(*t.Start))
			switch {
			case c.maxT < start-timeMargin:
				v = no
			case c.minT < start+timeMargin:
				v = min(v, maybe)
			}
		}
		if t.End != nil {
			end := treeTime(micros(*t.End))
			switch {
			case c.minT > end+timeMargin:
				v = no
			case c.maxT > end-timeMargin:
				v = min(v, maybe)
			}
		}
	}
	return v
}

// exactMatch tests a row's exact values against the filter.
func exactMatch(r *incidentRow, f domain.IncidentFilter, bounds []orb.Bound) bool {
	p := orb.Point{r.Lon, r.Lat}
	if !geo.InBounds(p, bounds) {
		return false
	}
	if n := f.Near; n != nil && geo.Distance(n.Center, p) > n.RadiusM {
		return false
	}
	if t := f.Time; t != nil {
		if t.Start != nil && r.OccurredAt < micros(*t.Start) {
			return false
		}
		if t.End != nil && r.OccurredAt > micros(*t.End) {
			return false
		}
	}
	return true
}

// treePage picks the page from matching candidates. Only candidates whose
// time box could reach the page are read, then ordered by their exact
// (occurred_at, id): with boxes a few minutes wide, that is the page and a
// handful more.
func (s *Store) treePage(ctx context.Context, f domain.IncidentFilter, o order, kept []candidate) (*domain.IncidentPage, error) {
	// Near the cursor a time box may fall on either side of it: those
	// candidates are always read, and the rest are settled from their boxes.
	var near []candidate
	if c := f.Page.Cursor; c != nil {
		key := treeTime(c.Key)
		after := kept[:0]
		for _, k := range kept {
			switch {
			case (o.desc && k.minT > key+timeMargin) || (!o.desc && k.maxT < key-timeMargin):
				// wholly before the cursor in page order: served already
			case k.minT <= key+timeMargin && k.maxT >= key-timeMargin:
				near = append(near, k)
			default:
				after = append(after, k)
			}
		}
		kept = after
	}
	need := f.Page.Offset + f.Page.Limit + 1
	if len(kept) > need {
		// Descending, at least need candidates lie at or past the need-th
		// largest start of a time box, so one whose box ends before it
		// cannot make the page; ascending, the mirror image.
		bound := make([]float64, len(kept))
		for i, k := range kept {
			bound[i] = k.minT
			if !o.desc {
				bound[i] = k.maxT
			}
		}
		slices.Sort(bound)
		short := kept[:0]
		if o.desc {
			threshold := bound[len(bound)-need]
			for _, k := range kept {
				if k.maxT >= threshold-timeMargin {
					short = append(short, k)
				}
			}
		} else {
			threshold := bound[need-1]
			for _, k := range kept {
				if k.minT <= threshold+timeMargin {
					short = append(short, k)
				}
			}
		}
		kept = short
	}
	kept = append(kept, near...)
	ids := make([]int64, 0, len(kept))
	for _, k := range kept {
		ids = append(ids, k.id)
	}
	rows, err := s.rowsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	ordered := make([]*incidentRow, 0, len(rows))
	for _, id := range ids {
		if r, ok := rows[id]; ok && (f.Page.Cursor == nil || o.isAfter(r, f.Page.Cursor)) {
			ordered = append(ordered, r)
		}
	}
	slices.SortFunc(ordered, func(a, b *incidentRow) int {
		c := cmpInt(a.OccurredAt, b.OccurredAt)
		if c == 0 {
			c = cmpInt(a.ID, b.ID)
		}
		if o.desc {
			return -c
		}
		return c
	})
	if f.Page.Offset >= len(ordered) {
		ordered = nil
	} else {
		ordered = ordered[f.Page.Offset:]
	}
	return pageOf(f, o, ordered)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isAfter reports whether a row comes after the cursor in the order.
func (o order) isAfter(r *incidentRow, c *domain.Cursor) bool {
	key := r.OccurredAt
	if o.key == "severity" {
		key = int64(r.Severity)
	}
	if o.desc {
		return key < c.Key || (key == c.Key && r.ID < c.ID)
	}
	return key > c.Key || (key == c.Key && r.ID > c.ID)
}

// queryByID selects incidentColumns of the live incidents among ids, in
// id order, in one statement.
func (s *Store) queryByID(ctx context.Context, ids []int64) (*sql.Rows, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return s.read.WithContext(ctx).Raw(`SELECT `+incidentColumns+` FROM incidents i
		WHERE i.id IN (SELECT value FROM json_each(?)) AND i.deleted_at IS NULL`, string(list)).Rows()
}

// rowsByID reads live incidents by id in one statement.
func (s *Store) rowsByID(ctx context.Context, ids []int64) (map[int64]*incidentRow, error) {
	rows, err := s.queryByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]*incidentRow, len(ids))
	for rows.Next() {
		r := new(incidentRow)
		if err := scanIncident(rows, r); err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}
