// Package store holds what the storage engines share: the compilation of
// a CQL2 filter (domain.Expr) to SQL, with what differs between SQLite and
// PostGIS behind a Dialect. Each engine lives in its own package beside it
// (store/sqlite).
package store

import (
	"strings"

	"github.com/postwatch/postwatch/domain"
)

// Dialect is what an engine supplies to compile a filter: how a property,
// a literal, a fold, a LIKE and the spatial and array predicates read in
// its SQL. Placeholders are "?" in every dialect (GORM rewrites them for
// PostgreSQL).
//
// What each hook must agree on, whatever the engine: Fold must give what
// domain.ApplyFold gives for the same text, since literals are folded in
// Go (PostgreSQL's lower() is not full case folding: it keeps ß, which
// CASEI turns into ss); Like is case-sensitive with \ as the escape
// (PostgreSQL's LIKE … ESCAPE '\' is; SQLite's LIKE is not, hence GLOB);
// Spatial holds exactly when s.Matches(geo.Locate(point, s.Geometry)) does
// (PostGIS's 2D ST_Intersects, ST_Within, ST_Touches, ST_Equals, ST_Disjoint
// on the point agree) and should reach rows through the spatial index;
// Array compares sets, an unset array being the empty set.
type Dialect interface {
	// Column is the SQL value of a scalar queryable in the row, NULL when
	// the property is unset.
	Column(q domain.Queryable) string
	// Bind is the argument bound for a literal: string, float64, bool or
	// time.Time.
	Bind(v any) any
	// Fold applies domain.ApplyFold's fn ("casei" or "accenti") to a text
	// expression.
	Fold(fn, expr string) string
	// Like is a case-sensitive match of a text expression against a CQL2
	// LIKE pattern (see domain.Like).
	Like(expr, pattern string) (string, []any)
	// Spatial and Array compile those predicates over the row; Spatial
	// returns EINVALID for a geometry the engine cannot take.
	Spatial(s domain.Spatial) (string, []any, error)
	Array(a domain.ArrayPredicate) (string, []any)
}

// CompileFilter turns a checked filter over queryables into one SQL
// condition and its arguments. Values are bound, never spliced. AND and OR
// of many operands are nested as balanced trees, so the SQL's expression
// depth grows with the logarithm of their count, not the count (SQLite
// refuses expressions deeper than 1,000). Returns EINVALID naming "filter"
// for a property that is not among queryables.
func CompileFilter(e domain.Expr, queryables []domain.Queryable, d Dialect) (string, []any, error) {
	c := &compiler{props: queryables, d: d}
	sql := c.expr(e)
	return sql, c.args, c.err
}

type compiler struct {
	props []domain.Queryable
	d     Dialect
	args  []any
	err   error
}

func (c *compiler) expr(e domain.Expr) string {
	switch e := e.(type) {
	case domain.And:
		return c.balanced(e.Operands, " AND ")
	case domain.Or:
		return c.balanced(e.Operands, " OR ")
	case domain.Not:
		return "(NOT " + c.expr(e.Operand) + ")"
	case domain.Bool:
		if e.Value {
			return "(1 = 1)"
		}
		return "(1 = 0)"
	case domain.Compare:
		l := c.operand(e.Left)
		return "(" + l + " " + e.Op + " " + c.operand(e.Right) + ")"
	case domain.Like:
		sql, args := c.d.Like(c.operand(e.Value), e.Pattern)
		c.args = append(c.args, args...)
		return sql
	case domain.In:
		v := c.operand(e.Value)
		items := make([]string, len(e.List))
		for i, o := range e.List {
			items[i] = c.operand(o)
		}
		return "(" + v + " IN (" + strings.Join(items, ", ") + "))"
	case domain.IsNull:
		return "(" + c.operand(e.Value) + " IS NULL)"
	case domain.Spatial:
		c.check(e.Property)
		sql, args, err := c.d.Spatial(e)
		if err != nil && c.err == nil {
			c.err = err
		}
		c.args = append(c.args, args...)
		return sql
	case domain.ArrayPredicate:
		c.check(e.Property)
		sql, args := c.d.Array(e)
		c.args = append(c.args, args...)
		return sql
	}
	c.fail("unsupported expression %T", e)
	return "(1 = 0)"
}

// balanced joins operands with sep as a tree of depth log2(len).
func (c *compiler) balanced(ops []domain.Expr, sep string) string {
	if len(ops) == 1 {
		return c.expr(ops[0])
	}
	if len(ops) == 2 {
		l := c.expr(ops[0])
		return "(" + l + sep + c.expr(ops[1]) + ")"
	}
	mid := len(ops) / 2
	l := c.balanced(ops[:mid], sep)
	return "(" + l + sep + c.balanced(ops[mid:], sep) + ")"
}

func (c *compiler) operand(o domain.Operand) string {
	switch o := o.(type) {
	case domain.Property:
		q := c.check(o.Name)
		if q == nil {
			return "NULL"
		}
		return c.d.Column(*q)
	case domain.Literal:
		c.args = append(c.args, c.d.Bind(o.Value))
		return "?"
	case domain.Fold:
		return c.d.Fold(o.Func, c.operand(o.Arg))
	}
	c.fail("unsupported operand %T", o)
	return "NULL"
}

func (c *compiler) check(name string) *domain.Queryable {
	q := domain.FindQueryable(c.props, name)
	if q == nil {
		c.fail("%q is not a queryable property", name)
	}
	return q
}

func (c *compiler) fail(format string, args ...any) {
	if c.err == nil {
		c.err = domain.InvalidField("filter", format, args...)
	}
}
