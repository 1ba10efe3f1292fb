package sqlite

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// where accumulates SQL conditions joined with AND and their arguments.
type where struct {
	clauses []string
	args    []any
}

func (w *where) add(clause string, args ...any) {
	w.clauses = append(w.clauses, clause)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.clauses) == 0 {
		return "1"
	}
	return strings.Join(w.clauses, " AND ")
}

// inList adds "column IN (?, ?, …)" for a non-empty list.
func inList[T any](w *where, column string, values []T) {
	if len(values) == 0 {
		return
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	w.add(column+" IN ("+placeholders(len(values))+")", args...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rtreeOverlap selects the ids in an R*Tree whose box overlaps any of bs.
// The boxes are rounded outwards, so this is a superset of the points in bs.
func rtreeOverlap(table string, bs []orb.Bound) (string, []any) {
	var parts []string
	var args []any
	for _, b := range bs {
		parts = append(parts, `SELECT id FROM `+table+` WHERE min_lon <= ? AND max_lon >= ? AND min_lat <= ? AND max_lat >= ?`)
		args = append(args, b.Max[0], b.Min[0], b.Max[1], b.Min[1])
	}
	return strings.Join(parts, " UNION ALL "), args
}

// boxCondition is the exact test of a row's coordinates against bs.
func boxCondition(w *where, bs []orb.Bound) {
	sql, args := boxesSQL(bs)
	w.add(sql, args...)
}

func boxesSQL(bs []orb.Bound) (string, []any) {
	var boxes []string
	var args []any
	for _, b := range bs {
		boxes = append(boxes, "(i.lon BETWEEN ? AND ? AND i.lat BETWEEN ? AND ?)")
		args = append(args, b.Min[0], b.Max[0], b.Min[1], b.Max[1])
	}
	return "(" + joinOr(boxes) + ")", args
}

// spatialFilter narrows to rows in the bbox and within the near radius:
// the R*Tree table, unless "" (see treeStaleTable), prefilters on the bbox or
// the circle's bounding boxes; the row's own coordinates decide.
func spatialFilter(w *where, table string, bbox []orb.Bound, near *domain.Near) {
	bounds := bbox
	if bounds == nil && near != nil {
		bounds = geoRadiusBounds(near)
	}
	if bounds == nil {
		return
	}
	if table != "" {
		sub, args := rtreeOverlap(table, bounds)
		w.add("i.id IN ("+sub+")", args...)
	}
	boxCondition(w, bounds)
	if near != nil {
		w.add("pw_distance(i.lon, i.lat, ?, ?) <= ?", near.Center[0], near.Center[1], near.RadiusM)
	}
}

// ftsQuery turns free text into an FTS5 query matching all of its words,
// each quoted so that FTS5 operators in user input are taken literally.
// The words are domain.SearchWords, folded as the index is (see foldSQL)
// and split where the unicode61 tokenizer splits, so each quoted string is
// one token: several would make a phrase query, which the detail=none
// index refuses.
func ftsQuery(text string) string {
	words := domain.SearchWords(text)
	for i, w := range words {
		words[i] = `"` + w + `"`
	}
	return strings.Join(words, " ")
}

func geoRadiusBounds(n *domain.Near) []orb.Bound { return geo.RadiusBounds(n.Center, n.RadiusM) }

func joinOr(clauses []string) string { return strings.Join(clauses, " OR ") }

// likePattern matches text anywhere, with LIKE's wildcards escaped.
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// compileExpr adds a filter expression over the columns of the table
// aliased i, whose R*Tree is rtree ("" for none, see treeStaleTable), as one
// condition of w.
func compileExpr(w *where, e domain.Expr, queryables []domain.Queryable, rtree string) error {
	sql, args, err := store.CompileFilter(e, queryables, dialect{rtree: rtree})
	if err != nil {
		return err
	}
	w.add(sql, args...)
	return nil
}

// dialect is SQLite's store.Dialect over the table aliased i. CASEI,
// ACCENTI and the exact spatial test are Go functions registered on every
// connection (see registerFuncs), so they agree with the API's evaluation
// of literals to the byte.
type dialect struct{ rtree string }

func (dialect) Column(q domain.Queryable) string {
	if q.EmptyIsNull {
		return "NULLIF(i." + q.Column + ", '')"
	}
	return "i." + q.Column
}

func (dialect) Bind(v any) any {
	if t, ok := v.(time.Time); ok {
		return micros(t)
	}
	return v
}

func (dialect) Fold(fn, expr string) string { return "pw_" + fn + "(" + expr + ")" }

// Like uses GLOB: SQLite's LIKE ignores ASCII case, CQL2's does not.
func (dialect) Like(expr, pattern string) (string, []any) {
	return "(" + expr + " GLOB ?)", []any{globPattern(pattern)}
}

// maxPrefilterBoxes bounds the R*Tree subqueries of one spatial predicate:
// a multi-geometry of more parts is prefiltered by its whole bounding box.
const maxPrefilterBoxes = 16

// Spatial prefilters through the R*Tree with the bounding boxes of the
// geometry's parts and decides on the row's own point with pw_locate.
// A predicate that holds outside the geometry (disjoint) is the negation of
// one that does not.
func (d dialect) Spatial(s domain.Spatial) (string, []any, error) {
	var in, out []string
	for _, loc := range []geo.Location{geo.Exterior, geo.Interior, geo.Boundary} {
		code := strconv.Itoa(int(loc))
		if s.Matches(loc) {
			in = append(in, code)
		} else {
			out = append(out, code)
		}
	}
	negate := slices.Contains(in, strconv.Itoa(int(geo.Exterior)))
	codes := in
	if negate {
		codes = out
	}
	if len(codes) == 0 {
		return fmt.Sprintf("(1 = %d)", map[bool]int{true: 1, false: 0}[negate]), nil, nil
	}
	wkbGeom, err := wkb.Marshal(s.Geometry)
	if err != nil {
		return "", nil, domain.InvalidField("filter", "%s geometries are not supported", s.Geometry.GeoJSONType())
	}
	boxes := geometryBoxes(s.Geometry)
	var prefilter string
	var args []any
	if d.rtree != "" {
		sub, subArgs := rtreeOverlap(d.rtree, boxes)
		prefilter, args = "i.id IN ("+sub+")", subArgs
	} else {
		prefilter, args = boxesSQL(boxes)
	}
	sql := "(" + prefilter + " AND pw_locate(i.lon, i.lat, ?) IN (" + strings.Join(codes, ", ") + "))"
	args = append(args, wkbGeom)
	if negate {
		sql = "(NOT " + sql + ")"
	}
	return sql, args, nil
}

// geometryBoxes are the bounding boxes of g's parts, or of g as a whole
// when it has too many.
func geometryBoxes(g orb.Geometry) []orb.Bound {
	var parts []orb.Geometry
	switch g := g.(type) {
	case orb.MultiPolygon:
		for _, p := range g {
			parts = append(parts, p)
		}
	case orb.MultiLineString:
		for _, l := range g {
			parts = append(parts, l)
		}
	case orb.MultiPoint:
		for _, p := range g {
			parts = append(parts, p)
		}
	case orb.Collection:
		parts = g
	}
	if len(parts) == 0 || len(parts) > maxPrefilterBoxes {
		return []orb.Bound{g.Bound()}
	}
	boxes := make([]orb.Bound, len(parts))
	for i, p := range parts {
		boxes[i] = p.Bound()
	}
	return boxes
}

// Array compares the set of the extra column's tags with a.Values through
// json_each; an incident without tags has the empty set.
func (dialect) Array(a domain.ArrayPredicate) (string, []any) {
	tags := "json_each(i.extra, '$.tags')"
	args := make([]any, len(a.Values))
	for i, v := range a.Values {
		args[i] = v
	}
	list := placeholders(len(a.Values))
	// A superset of Values: as many distinct tags among Values as Values.
	contains := fmt.Sprintf("((SELECT count(DISTINCT value) FROM %s WHERE value IN (%s)) = %d)", tags, list, len(a.Values))
	// A subset of Values: no tag outside them.
	containedBy := fmt.Sprintf("(NOT EXISTS (SELECT 1 FROM %s WHERE value NOT IN (%s)))", tags, list)
	if len(a.Values) == 0 {
		contains, containedBy = "(1 = 1)", fmt.Sprintf("(NOT EXISTS (SELECT 1 FROM %s WHERE value IS NOT NULL))", tags)
		args = nil
	}
	switch a.Op {
	case "contains":
		return contains, args
	case "containedby":
		return containedBy, args
	case "equals":
		return "(" + contains + " AND " + containedBy + ")", append(append([]any{}, args...), args...)
	}
	if len(a.Values) == 0 {
		return "(1 = 0)", nil
	}
	return fmt.Sprintf("(EXISTS (SELECT 1 FROM %s WHERE value IN (%s)))", tags, list), args
}

// globPattern is a CQL2 LIKE pattern as an SQLite GLOB pattern, which
// matches case-sensitively: % is *, _ is ?, an escaped character stands for
// itself, and GLOB's own wildcards in the text are bracketed ([*] is a
// literal star).
func globPattern(pattern string) string {
	var b strings.Builder
	lit := func(c byte) {
		switch c {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteByte(c)
			b.WriteByte(']')
		default:
			b.WriteByte(c)
		}
	}
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			i++
			lit(pattern[i])
		case c == '%':
			b.WriteByte('*')
		case c == '_':
			b.WriteByte('?')
		default:
			lit(c)
		}
	}
	return b.String()
}
