package sqlite

import (
	"strings"
	"time"

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
	var boxes []string
	for _, b := range bs {
		boxes = append(boxes, "(i.lon BETWEEN ? AND ? AND i.lat BETWEEN ? AND ?)")
		w.args = append(w.args, b.Min[0], b.Max[0], b.Min[1], b.Max[1])
	}
	w.clauses = append(w.clauses, "("+joinOr(boxes)+")")
}

// spatialFilter narrows to rows in the bbox and within the near radius:
// the R*Tree prefilters (on the bbox, or the circle's bounding boxes), the
// row's own coordinates decide.
func spatialFilter(w *where, table string, bbox []orb.Bound, near *domain.Near) {
	bounds := bbox
	if bounds == nil && near != nil {
		bounds = geoRadiusBounds(near)
	}
	if bounds == nil {
		return
	}
	sub, args := rtreeOverlap(table, bounds)
	w.add("i.id IN ("+sub+")", args...)
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

// compileExpr turns a filter expression into SQL over the columns of the
// table aliased i; properties are checked against queryables, values are
// bound, never spliced.
func compileExpr(w *where, e domain.Expr, queryables []domain.Queryable) error {
	sql, args, err := exprSQL(e, queryables)
	if err != nil {
		return err
	}
	w.add(sql, args...)
	return nil
}

func exprSQL(e domain.Expr, queryables []domain.Queryable) (string, []any, error) {
	join := func(ops []domain.Expr, sep string) (string, []any, error) {
		var parts []string
		var args []any
		for _, op := range ops {
			s, a, err := exprSQL(op, queryables)
			if err != nil {
				return "", nil, err
			}
			parts = append(parts, s)
			args = append(args, a...)
		}
		return "(" + strings.Join(parts, sep) + ")", args, nil
	}
	switch e := e.(type) {
	case domain.And:
		return join(e.Operands, " AND ")
	case domain.Or:
		return join(e.Operands, " OR ")
	case domain.Not:
		s, a, err := exprSQL(e.Operand, queryables)
		return "(NOT " + s + ")", a, err
	case domain.Compare:
		var q *domain.Queryable
		for i := range queryables {
			if queryables[i].Name == e.Property {
				q = &queryables[i]
			}
		}
		if q == nil {
			return "", nil, domain.InvalidField("filter", "%q is not a queryable property", e.Property)
		}
		col := "i." + q.Column
		args := make([]any, len(e.Values))
		for i, v := range e.Values {
			if t, ok := v.(time.Time); ok {
				v = micros(t)
			}
			args[i] = v
		}
		switch e.Op {
		case "=", "<>", "<", "<=", ">", ">=":
			return col + " " + e.Op + " ?", args, nil
		case "like":
			return col + " LIKE ?", args, nil
		case "in":
			return col + " IN (" + placeholders(len(args)) + ")", args, nil
		case "between":
			return col + " BETWEEN ? AND ?", args, nil
		case "isnull":
			return "(" + col + " IS NULL OR " + col + " = '')", nil, nil
		}
		return "", nil, domain.InvalidField("filter", "operator %q is not supported", e.Op)
	}
	return "", nil, domain.InvalidField("filter", "unsupported expression")
}
