package store

import (
	"strings"
	"unicode"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
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

// rtreeSubquery selects the ids in an R*Tree whose point lies in any of bs.
// The tree's float32 bounds are rounded outwards, so the exact test runs on
// the auxiliary lon/lat columns of the same rows.
func rtreeSubquery(table, cols string, bs []orb.Bound, extra string, extraArgs ...any) (string, []any) {
	var parts []string
	var args []any
	for _, b := range bs {
		parts = append(parts, `SELECT `+cols+` FROM `+table+` WHERE min_lon <= ? AND max_lon >= ? AND min_lat <= ? AND max_lat >= ?
			AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?`+extra)
		args = append(args, b.Max[0], b.Min[0], b.Max[1], b.Min[1], b.Min[0], b.Max[0], b.Min[1], b.Max[1])
		args = append(args, extraArgs...)
	}
	return strings.Join(parts, " UNION ALL "), args
}

// spatialFilter narrows to rows in the bbox and within the near radius. The
// R*Tree answers the box (the bbox, or the circle's bounding boxes); the
// geodesic distance is checked exactly by pw_distance.
func spatialFilter(w *where, table string, bbox []orb.Bound, near *domain.Near) {
	bounds := bbox
	if bounds == nil && near != nil {
		bounds = geoRadiusBounds(near)
	}
	if bounds != nil {
		sub, args := rtreeSubquery(table, "id", bounds, "")
		w.add("i.id IN ("+sub+")", args...)
	}
	if bbox != nil && near != nil {
		sub, args := rtreeSubquery(table, "id", geoRadiusBounds(near), "")
		w.add("i.id IN ("+sub+")", args...)
	}
	if near != nil {
		w.add("pw_distance(i.lon, i.lat, ?, ?) <= ?", near.Center[0], near.Center[1], near.RadiusM)
	}
}

// ftsQuery turns free text into an FTS5 query matching all of its words,
// each quoted so that FTS5 operators in user input are taken literally.
// Words are split where the unicode61 tokenizer splits them (at anything
// but letters, digits and marks), so "al-Asad" or "Kata'ib" become two
// one-token strings: a quoted string of several tokens is a phrase query,
// which the detail=none index rejects with an error.
func ftsQuery(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r) && !unicode.Is(unicode.Co, r)
	})
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
