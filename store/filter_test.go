package store_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// textDialect writes each dialect hook as a readable marker, so the tests
// see exactly what the shared compiler hands each engine.
type textDialect struct{}

func (textDialect) Column(q domain.Queryable) string { return "col(" + q.Column + ")" }
func (textDialect) Bind(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.Unix()
	}
	return v
}
func (textDialect) Fold(fn, expr string) string { return fn + "(" + expr + ")" }
func (textDialect) Like(expr, pattern string) (string, []any) {
	return "like(" + expr + ", ?)", []any{pattern}
}
func (textDialect) Spatial(s domain.Spatial) (string, []any, error) {
	return "spatial(" + s.Op + ")", []any{s.Geometry}, nil
}
func (textDialect) Array(a domain.ArrayPredicate) (string, []any) {
	return "array(" + a.Op + ")", []any{strings.Join(a.Values, "|")}
}

func TestCompileFilter(t *testing.T) {
	sev := domain.Property{Name: "severity"}
	at := time.Date(2018, 9, 8, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		expr     domain.Expr
		sql      string
		args     []any
		errField string
	}{
		{"compare", domain.Compare{Op: ">=", Left: sev, Right: domain.Literal{Value: 3.0}}, "(col(severity) >= ?)", []any{3.0}, ""},
		{"literal first", domain.Compare{Op: "<", Left: domain.Literal{Value: at}, Right: domain.Property{Name: "occurred_at"}}, "(? < col(occurred_at))", []any{at.Unix()}, ""},
		{"fold, like, not", domain.Not{Operand: domain.Like{Value: domain.Fold{Func: "casei", Arg: domain.Property{Name: "title"}}, Pattern: "basra%"}},
			"(NOT like(casei(col(title)), ?))", []any{"basra%"}, ""},
		{"in and is null", domain.Or{Operands: []domain.Expr{
			domain.In{Value: domain.Property{Name: "type"}, List: []domain.Operand{domain.Literal{Value: "ied"}, domain.Literal{Value: "drone"}}},
			domain.IsNull{Value: domain.Property{Name: "country"}},
		}}, "((col(type) IN (?, ?)) OR (col(country) IS NULL))", []any{"ied", "drone"}, ""},
		{"spatial and array", domain.And{Operands: []domain.Expr{
			domain.Spatial{Op: "within", Property: "geometry", Geometry: orb.Point{1, 2}},
			domain.ArrayPredicate{Op: "contains", Property: "tags", Values: []string{"a", "b"}},
			domain.Bool{Value: true},
		}}, "(spatial(within) AND (array(contains) AND (1 = 1)))", []any{orb.Point{1, 2}, "a|b"}, ""},
		{"unknown property", domain.IsNull{Value: domain.Property{Name: "colour"}}, "", nil, "filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sql, args, err := store.CompileFilter(tt.expr, domain.IncidentQueryables, textDialect{})
			if tt.errField != "" {
				if err == nil || !strings.Contains(err.Error(), "colour") {
					t.Fatalf("err %v, want one naming colour", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sql != tt.sql || fmt.Sprint(args) != fmt.Sprint(tt.args) {
				t.Fatalf("got %s %v\nwant %s %v", sql, args, tt.sql, tt.args)
			}
		})
	}
}

// TestCompileFilterBalances: a flat AND of n operands nests about log2(n)
// deep, with its arguments in the operands' order.
func TestCompileFilterBalances(t *testing.T) {
	var ops []domain.Expr
	var want []any
	for i := range 1000 {
		ops = append(ops, domain.Compare{Op: "<>", Left: domain.Property{Name: "killed"}, Right: domain.Literal{Value: float64(i)}})
		want = append(want, float64(i))
	}
	sql, args, err := store.CompileFilter(domain.And{Operands: ops}, domain.IncidentQueryables, textDialect{})
	if err != nil {
		t.Fatal(err)
	}
	depth, deepest := 0, 0
	for _, c := range sql {
		switch c {
		case '(':
			depth++
			deepest = max(deepest, depth)
		case ')':
			depth--
		}
	}
	if deepest > 14 {
		t.Errorf("1000 operands nest %d deep", deepest)
	}
	if !slices.Equal(args, want) {
		t.Errorf("arguments out of order")
	}
}
