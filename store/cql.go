package store

import (
	"strings"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// Dialect is what differs between the engines in the SQL this package
// builds. Statements use "?" placeholders on both engines; GORM numbers
// them ($1, $2…) for PostgreSQL.
type Dialect struct {
	// Time is how a timestamp is bound: microseconds since 1970 on SQLite
	// (an INTEGER column), a time.Time on PostGIS (timestamptz).
	Time func(time.Time) any
	// Like returns the condition that col matches a CQL2 LIKE pattern: %
	// and _ are wildcards, \ escapes the next character, and case matters
	// (OGC 21-065 §7.2.2 "case-sensitive comparison"), on every engine.
	Like func(col string, pattern string) (string, []any)
	// Number casts a numeric parameter compared with col, where the engine
	// would otherwise take the parameter to have the column's type (an
	// integer column against 2.5); "?" where no cast is needed.
	Number string
}

// ExprSQL turns a filter expression into SQL over the columns of the
// table aliased i. Properties are checked against queryables (EINVALID
// naming "filter" otherwise); values are bound, never spliced.
func ExprSQL(e domain.Expr, queryables []domain.Queryable, d Dialect) (string, []any, error) {
	join := func(ops []domain.Expr, sep string) (string, []any, error) {
		var parts []string
		var args []any
		for _, op := range ops {
			s, a, err := ExprSQL(op, queryables, d)
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
		s, a, err := ExprSQL(e.Operand, queryables, d)
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
		param := "?"
		if q.Type == "integer" || q.Type == "number" {
			param = d.Number
		}
		args := make([]any, len(e.Values))
		for i, v := range e.Values {
			if t, ok := v.(time.Time); ok {
				v = d.Time(t)
			}
			args[i] = v
		}
		switch e.Op {
		case "=", "<>", "<", "<=", ">", ">=":
			return col + " " + e.Op + " " + param, args, nil
		case "like":
			pattern, _ := e.Values[0].(string)
			s, a := d.Like(col, pattern)
			return s, a, nil
		case "in":
			return col + " IN (" + strings.TrimSuffix(strings.Repeat(param+", ", len(args)), ", ") + ")", args, nil
		case "between":
			return col + " BETWEEN " + param + " AND " + param, args, nil
		case "isnull":
			if q.Type == "string" {
				return "(" + col + " IS NULL OR " + col + " = '')", nil, nil
			}
			return col + " IS NULL", nil, nil
		}
		return "", nil, domain.InvalidField("filter", "operator %q is not supported", e.Op)
	}
	return "", nil, domain.InvalidField("filter", "unsupported expression")
}

// LikePattern matches text anywhere, with LIKE's wildcards escaped by \.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// GlobPattern turns a CQL2 LIKE pattern into a GLOB pattern, SQLite's
// case-sensitive match: % is *, _ is ?, \ escapes the next character, and
// GLOB's own *, ? and [ are bracketed to stand for themselves.
func GlobPattern(like string) string {
	var b strings.Builder
	escaped := false
	for _, r := range like {
		switch {
		case !escaped && r == '\\':
			escaped = true
			continue
		case !escaped && r == '%':
			b.WriteByte('*')
		case !escaped && r == '_':
			b.WriteByte('?')
		case r == '*' || r == '?' || r == '[':
			b.WriteString("[" + string(r) + "]")
		default:
			b.WriteRune(r)
		}
		escaped = false
	}
	return b.String()
}
