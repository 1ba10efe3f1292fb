package api

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// checkCQL turns an expression as read into a domain.Expr over queryables:
// every property must be a queryable and every operand of the type its
// operator takes. Supported: the basic-cql2 predicates with literals on
// either side (and two properties), LIKE, BETWEEN, IN, CASEI, ACCENTI, the
// spatial functions S_* on the point property geometry, the temporal
// functions T_* (an instant is an interval whose ends coincide), and the
// array functions A_* on tags. Errors name the field "filter".
func checkCQL(n any, queryables []domain.Queryable) (domain.Expr, error) {
	c := &cqlChecker{props: queryables}
	e, err := c.boolean(n)
	if err != nil {
		return nil, domain.InvalidField("filter", "%s", err.Error())
	}
	return e, nil
}

type cqlChecker struct {
	props []domain.Queryable
	nodes int
}

// count bounds the size of the expression; the parsers bound its depth.
func (c *cqlChecker) count() error {
	c.nodes++
	if c.nodes > MaxFilterNodes {
		return fmt.Errorf("has more than %d operators and values", MaxFilterNodes)
	}
	return nil
}

// cqlValue is a checked operand with its type: string, number, boolean,
// timestamp (these four as operand), date (a DATE literal, its UTC day in
// date), geometry (geom, or the property prop), array (items, or the
// property prop) or interval (ends).
type cqlValue struct {
	typ     string
	operand domain.Operand
	date    time.Time
	geom    orb.Geometry
	prop    string
	items   []any
	ends    [2]cqlEnd
}

func describe(n any) string {
	switch n := n.(type) {
	case cqlProp:
		return n.name
	case cqlCall:
		return n.name + "(…)"
	case string:
		return "'" + n + "'"
	case bool:
		return strings.ToUpper(fmt.Sprint(n))
	case float64:
		return fmt.Sprint(n)
	}
	return "this value"
}

// boolean checks an expression that must be a predicate.
func (c *cqlChecker) boolean(n any) (domain.Expr, error) {
	if err := c.count(); err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case bool:
		return domain.Bool{Value: n}, nil
	case cqlCall:
		return c.call(n)
	case cqlProp:
		if domain.FindQueryable(c.props, n.name) == nil {
			return nil, unknownProperty(n.name)
		}
		return nil, fmt.Errorf("%s is not a predicate: compare it with a value", n.name)
	}
	return nil, fmt.Errorf("%s is not a predicate", describe(n))
}

func unknownProperty(name string) error {
	return fmt.Errorf("%q is not a queryable property (see /queryables)", name)
}

// arity is an error unless n has k arguments.
func (n cqlCall) arity(k int) error {
	if len(n.args) != k {
		return fmt.Errorf("%s takes %d arguments, not %d", n.name, k, len(n.args))
	}
	return nil
}

func (c *cqlChecker) call(n cqlCall) (domain.Expr, error) {
	switch {
	case n.op == "and" || n.op == "or":
		if len(n.args) < 2 {
			return nil, fmt.Errorf("%s takes at least two arguments", n.name)
		}
		ops := make([]domain.Expr, len(n.args))
		for i, a := range n.args {
			e, err := c.boolean(a)
			if err != nil {
				return nil, err
			}
			ops[i] = e
		}
		if n.op == "and" {
			return andOf(ops...), nil
		}
		return orOf(ops...), nil
	case n.op == "not":
		if err := n.arity(1); err != nil {
			return nil, err
		}
		e, err := c.boolean(n.args[0])
		if err != nil {
			return nil, err
		}
		return notOf(e), nil
	case slices.Contains([]string{"=", "<>", "<", "<=", ">", ">="}, n.op):
		if err := n.arity(2); err != nil {
			return nil, err
		}
		l, r, err := c.pair(n.args[0], n.args[1])
		if err != nil {
			return nil, err
		}
		return compareValues(n.op, l, r)
	case n.op == "like":
		if err := n.arity(2); err != nil {
			return nil, err
		}
		return c.like(n.args[0], n.args[1])
	case n.op == "between":
		if err := n.arity(3); err != nil {
			return nil, err
		}
		v, lo, err := c.pair(n.args[0], n.args[1])
		if err != nil {
			return nil, err
		}
		hi, err := c.value(n.args[2])
		if err != nil {
			return nil, err
		}
		if err := checkComparable(n.args[0], n.args[2], v, hi); err != nil {
			return nil, err
		}
		if v.typ != "number" && v.typ != "timestamp" && v.typ != "date" && v.typ != "string" {
			return nil, fmt.Errorf("BETWEEN compares numbers, texts or instants")
		}
		a, err := compareValues(">=", v, lo)
		if err != nil {
			return nil, err
		}
		b, err := compareValues("<=", v, hi)
		if err != nil {
			return nil, err
		}
		return andOf(a, b), nil
	case n.op == "in":
		if err := n.arity(2); err != nil {
			return nil, err
		}
		return c.in(n.args[0], n.args[1])
	case n.op == "isnull":
		if err := n.arity(1); err != nil {
			return nil, err
		}
		v, err := c.value(n.args[0])
		if err != nil {
			return nil, err
		}
		if _, lit := v.operand.(domain.Literal); lit || v.operand == nil {
			// Literals, the geometry and tags (the empty set when
			// absent) are never null.
			return domain.Bool{Value: false}, nil
		}
		return domain.IsNull{Value: v.operand}, nil
	case strings.HasPrefix(n.op, "s_"):
		return c.spatial(n)
	case strings.HasPrefix(n.op, "t_"):
		return c.temporal(n)
	case strings.HasPrefix(n.op, "a_"):
		return c.array(n)
	case n.op == "casei" || n.op == "accenti":
		return nil, fmt.Errorf("%s returns a text, not a predicate: compare it with a value", n.name)
	}
	return nil, fmt.Errorf("function %s is not supported", n.name)
}

// value checks an operand.
func (c *cqlChecker) value(n any) (cqlValue, error) {
	if err := c.count(); err != nil {
		return cqlValue{}, err
	}
	switch n := n.(type) {
	case string:
		return cqlValue{typ: "string", operand: domain.Literal{Value: n}}, nil
	case float64:
		return cqlValue{typ: "number", operand: domain.Literal{Value: n}}, nil
	case bool:
		return cqlValue{typ: "boolean", operand: domain.Literal{Value: n}}, nil
	case cqlInstant:
		if n.date {
			return cqlValue{typ: "date", date: n.t}, nil
		}
		return cqlValue{typ: "timestamp", operand: domain.Literal{Value: n.t}}, nil
	case cqlGeometry:
		return cqlValue{typ: "geometry", geom: n.g}, nil
	case cqlArray:
		return cqlValue{typ: "array", items: n}, nil
	case cqlInterval:
		return c.interval(n)
	case cqlProp:
		q := domain.FindQueryable(c.props, n.name)
		if q == nil {
			return cqlValue{}, unknownProperty(n.name)
		}
		switch q.Type {
		case "integer", "number":
			return cqlValue{typ: "number", operand: domain.Property{Name: q.Name}}, nil
		case "geometry", "array":
			return cqlValue{typ: q.Type, prop: q.Name}, nil
		}
		return cqlValue{typ: q.Type, operand: domain.Property{Name: q.Name}}, nil
	case cqlCall:
		if n.op != "casei" && n.op != "accenti" {
			if strings.HasPrefix(n.op, "s_") || strings.HasPrefix(n.op, "t_") || strings.HasPrefix(n.op, "a_") || slices.Contains([]string{"and", "or", "not", "=", "<>", "<", "<=", ">", ">=", "like", "between", "in", "isnull"}, n.op) {
				return cqlValue{}, fmt.Errorf("%s is a predicate, not a value", n.name)
			}
			return cqlValue{}, fmt.Errorf("function %s is not supported", n.name)
		}
		if len(n.args) != 1 {
			return cqlValue{}, fmt.Errorf("%s takes one argument", n.name)
		}
		v, err := c.value(n.args[0])
		if err != nil {
			return cqlValue{}, err
		}
		if v.typ != "string" {
			return cqlValue{}, fmt.Errorf("%s takes a text", n.name)
		}
		if lit, ok := v.operand.(domain.Literal); ok {
			return cqlValue{typ: "string", operand: domain.Literal{Value: domain.ApplyFold(n.op, lit.Value.(string))}}, nil
		}
		return cqlValue{typ: "string", operand: domain.Fold{Func: n.op, Arg: v.operand}}, nil
	}
	return cqlValue{}, fmt.Errorf("%s is not a value", describe(n))
}

// pair checks two operands that must have comparable types.
func (c *cqlChecker) pair(a, b any) (cqlValue, cqlValue, error) {
	l, err := c.value(a)
	if err != nil {
		return l, l, err
	}
	r, err := c.value(b)
	if err != nil {
		return l, r, err
	}
	return l, r, checkComparable(a, b, l, r)
}

// checkComparable checks that operands a and b, checked as l and r, have types
// a comparison takes: one scalar type (DATE going with timestamps).
func checkComparable(a, b any, l, r cqlValue) error {
	kind := func(t string) string {
		if t == "date" {
			return "timestamp"
		}
		return t
	}
	if kind(l.typ) != kind(r.typ) {
		return fmt.Errorf("%s (%s) and %s (%s) cannot be compared", describe(a), l.typ, describe(b), r.typ)
	}
	if l.operand == nil && l.typ != "date" || r.operand == nil && r.typ != "date" {
		return fmt.Errorf("%s values are compared with the %s functions", l.typ, map[string]string{"geometry": "S_", "array": "A_", "interval": "T_"}[l.typ])
	}
	return nil
}

// compareValues builds l op r. A DATE compared with a timestamp stands for
// its whole day: t = DATE(d) holds when t falls on d, t < DATE(d) when t is
// before d begins, t <= DATE(d) when t is before d ends.
func compareValues(op string, l, r cqlValue) (domain.Expr, error) {
	if l.typ == "date" && r.typ == "date" {
		return domain.Bool{Value: compareLiterals(op, l.date, r.date)}, nil
	}
	if l.typ == "date" {
		return compareValues(flipComparison[op], r, l)
	}
	if r.typ == "date" {
		first, last := domain.DayBounds(r.date)
		at := func(op string, t time.Time) domain.Expr {
			return compareOperands(op, l.operand, domain.Literal{Value: t})
		}
		switch op {
		case "=":
			return andOf(at(">=", first), at("<=", last)), nil
		case "<>":
			return orOf(at("<", first), at(">", last)), nil
		case "<", ">=":
			return at(op, first), nil
		default: // "<=", ">"
			return at(op, last), nil
		}
	}
	return compareOperands(op, l.operand, r.operand), nil
}

var flipComparison = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// compareOperands is a Compare, evaluated now when both sides are literals.
func compareOperands(op string, l, r domain.Operand) domain.Expr {
	a, aok := l.(domain.Literal)
	b, bok := r.(domain.Literal)
	if aok && bok {
		return domain.Bool{Value: compareLiterals(op, a.Value, b.Value)}
	}
	return domain.Compare{Op: op, Left: l, Right: r}
}

// compareLiterals compares two literals of one type (checked before).
func compareLiterals(op string, a, b any) bool {
	var c int
	switch a := a.(type) {
	case string:
		c = strings.Compare(a, b.(string))
	case float64:
		c = cmpFloat(a, b.(float64))
	case bool:
		c = cmpFloat(boolNum(a), boolNum(b.(bool)))
	case time.Time:
		c = a.Compare(b.(time.Time))
	}
	switch op {
	case "=":
		return c == 0
	case "<>":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *cqlChecker) like(value, pattern any) (domain.Expr, error) {
	v, err := c.value(value)
	if err != nil {
		return nil, err
	}
	p, err := c.value(pattern)
	if err != nil {
		return nil, err
	}
	lit, ok := p.operand.(domain.Literal)
	if v.typ != "string" || p.typ != "string" || !ok {
		return nil, fmt.Errorf("LIKE matches a text against a quoted pattern")
	}
	pat := lit.Value.(string)
	if s, ok := v.operand.(domain.Literal); ok {
		return domain.Bool{Value: likeRegexp(pat).MatchString(s.Value.(string))}, nil
	}
	return domain.Like{Value: v.operand, Pattern: pat}, nil
}

// likeRegexp is a CQL2 LIKE pattern as an anchored regular expression.
func likeRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		case c == '%':
			b.WriteString(`.*`)
		case c == '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func (c *cqlChecker) in(value, list any) (domain.Expr, error) {
	items, ok := list.(cqlArray)
	if !ok || len(items) == 0 {
		return nil, fmt.Errorf("IN takes a list of one or more values")
	}
	v, err := c.value(value)
	if err != nil {
		return nil, err
	}
	simple := v.typ != "date"
	if _, lit := v.operand.(domain.Literal); lit {
		simple = false
	}
	var ops []domain.Operand
	var alts []domain.Expr
	for _, it := range items {
		r, err := c.value(it)
		if err != nil {
			return nil, err
		}
		if err := checkComparable(value, it, v, r); err != nil {
			return nil, err
		}
		if _, lit := r.operand.(domain.Literal); !lit {
			simple = false
		}
		ops = append(ops, r.operand)
		e, err := compareValues("=", v, r)
		if err != nil {
			return nil, err
		}
		alts = append(alts, e)
	}
	if simple {
		return domain.In{Value: v.operand, List: ops}, nil
	}
	return orOf(alts...), nil
}

// spatial checks S_*(a, b): one argument the geometry property, the other
// a geometry literal (or the property again).
func (c *cqlChecker) spatial(n cqlCall) (domain.Expr, error) {
	op := strings.TrimPrefix(n.op, "s_")
	if !slices.Contains([]string{"intersects", "disjoint", "within", "contains", "equals", "touches", "crosses", "overlaps"}, op) {
		return nil, fmt.Errorf("function %s is not supported", n.name)
	}
	if err := n.arity(2); err != nil {
		return nil, err
	}
	a, err := c.value(n.args[0])
	if err != nil {
		return nil, err
	}
	b, err := c.value(n.args[1])
	if err != nil {
		return nil, err
	}
	if a.typ != "geometry" || b.typ != "geometry" {
		return nil, fmt.Errorf("%s compares geometries: the property geometry and a WKT or GeoJSON geometry", n.name)
	}
	switch {
	case a.prop != "" && b.prop != "":
		// A point compared with itself.
		return domain.Bool{Value: slices.Contains([]string{"intersects", "within", "contains", "equals"}, op)}, nil
	case a.prop == "" && b.prop == "":
		return nil, fmt.Errorf("%s needs the property geometry as one of its arguments", n.name)
	case a.prop == "":
		a, b = b, a
		if inv, ok := map[string]string{"within": "contains", "contains": "within"}[op]; ok {
			op = inv
		}
	}
	if op == "crosses" || op == "overlaps" {
		// Neither holds between a point and any geometry: crossing needs
		// the point both inside and outside, overlapping two geometries
		// of one dimension each with a part outside the other.
		return domain.Bool{Value: false}, nil
	}
	if geomEmpty(b.geom) {
		return domain.Bool{Value: op == "disjoint"}, nil
	}
	return domain.Spatial{Op: op, Property: a.prop, Geometry: b.geom}, nil
}

// geomEmpty reports whether g has no point at all.
func geomEmpty(g orb.Geometry) bool { return geoPoints(g) == 0 }

func geoPoints(g orb.Geometry) int {
	switch g := g.(type) {
	case orb.Point:
		return 1
	case orb.MultiPoint:
		return len(g)
	case orb.LineString:
		return len(g)
	case orb.MultiLineString:
		n := 0
		for _, l := range g {
			n += len(l)
		}
		return n
	case orb.Polygon:
		n := 0
		for _, r := range g {
			n += len(r)
		}
		return n
	case orb.MultiPolygon:
		n := 0
		for _, p := range g {
			n += geoPoints(p)
		}
		return n
	case orb.Collection:
		n := 0
		for _, m := range g {
			n += geoPoints(m)
		}
		return n
	}
	return 0
}

// A cqlEnd is one end of a temporal value: an operand (a timestamp
// property or literal), or unbounded (inf -1 for '..' at the start, +1 at
// the end).
type cqlEnd struct {
	operand domain.Operand
	inf     int
}

// interval checks INTERVAL(a, b): ends are instants, '..' or timestamp
// properties; a DATE starts at its first moment and ends at its last.
func (c *cqlChecker) interval(n cqlInterval) (cqlValue, error) {
	out := cqlValue{typ: "interval"}
	for i, e := range []any{n.start, n.end} {
		if _, open := e.(cqlOpen); open {
			out.ends[i] = cqlEnd{inf: 2*i - 1}
			continue
		}
		v, err := c.value(e)
		if err != nil {
			return out, err
		}
		ends, err := temporalEnds(v)
		if err != nil || v.typ == "interval" {
			return out, fmt.Errorf("INTERVAL takes instants, '..' or timestamp properties")
		}
		out.ends[i] = ends[i]
	}
	s, sok := out.ends[0].operand.(domain.Literal)
	e, eok := out.ends[1].operand.(domain.Literal)
	if sok && eok && e.Value.(time.Time).Before(s.Value.(time.Time)) {
		return out, fmt.Errorf("INTERVAL ends (%s) before it starts (%s)", e.Value.(time.Time).Format(time.RFC3339Nano), s.Value.(time.Time).Format(time.RFC3339Nano))
	}
	return out, nil
}

// temporalEnds is the start and end of a temporal value.
func temporalEnds(v cqlValue) ([2]cqlEnd, error) {
	switch v.typ {
	case "timestamp":
		return [2]cqlEnd{{operand: v.operand}, {operand: v.operand}}, nil
	case "date":
		first, last := domain.DayBounds(v.date)
		return [2]cqlEnd{{operand: domain.Literal{Value: first}}, {operand: domain.Literal{Value: last}}}, nil
	case "interval":
		return v.ends, nil
	}
	return [2]cqlEnd{}, fmt.Errorf("not a temporal value")
}

// temporalRelations define the temporal functions (OGC 21-065r2, 7.8.2,
// after the W3C Time Ontology) as conditions on the ends of two intervals
// a and b, all of which must hold: {end of a (0 start, 1 end), comparison,
// end of b}. T_DISJOINT is T_BEFORE or T_AFTER.
var temporalRelations = map[string][]struct {
	a  int
	op string
	b  int
}{
	"after":        {{0, ">", 1}},
	"before":       {{1, "<", 0}},
	"equals":       {{0, "=", 0}, {1, "=", 1}},
	"intersects":   {{0, "<=", 1}, {1, ">=", 0}},
	"contains":     {{0, "<", 0}, {1, ">", 1}},
	"during":       {{0, ">", 0}, {1, "<", 1}},
	"finishedby":   {{0, "<", 0}, {1, "=", 1}},
	"finishes":     {{0, ">", 0}, {1, "=", 1}},
	"meets":        {{1, "=", 0}},
	"metby":        {{0, "=", 1}},
	"overlappedby": {{0, ">", 0}, {0, "<", 1}, {1, ">", 1}},
	"overlaps":     {{0, "<", 0}, {1, ">", 0}, {1, "<", 1}},
	"startedby":    {{0, "=", 0}, {1, ">", 1}},
	"starts":       {{0, "=", 0}, {1, "<", 1}},
}

// temporal checks T_*(a, b) and writes it as comparisons of the ends of a
// and b. An instant is an interval whose ends coincide, so every function
// applies to occurred_at; those that need a duration on that side (T_CONTAINS
// of an instant, say) simply never hold.
func (c *cqlChecker) temporal(n cqlCall) (domain.Expr, error) {
	op := strings.TrimPrefix(n.op, "t_")
	if _, ok := temporalRelations[op]; !ok && op != "disjoint" {
		return nil, fmt.Errorf("function %s is not supported", n.name)
	}
	if err := n.arity(2); err != nil {
		return nil, err
	}
	var ends [2][2]cqlEnd
	for i, arg := range n.args {
		v, err := c.value(arg)
		if err != nil {
			return nil, err
		}
		if ends[i], err = temporalEnds(v); err != nil {
			return nil, fmt.Errorf("%s compares instants and intervals: occurred_at, TIMESTAMP, DATE or INTERVAL, not %s", n.name, describe(arg))
		}
	}
	relation := func(name string) domain.Expr {
		var conds []domain.Expr
		for _, r := range temporalRelations[name] {
			conds = append(conds, compareEnds(ends[0][r.a], r.op, ends[1][r.b]))
		}
		return andOf(conds...)
	}
	if op == "disjoint" {
		return orOf(relation("before"), relation("after")), nil
	}
	return relation(op), nil
}

// compareEnds is a op b for interval ends, evaluated now when an end is
// unbounded or both are literals.
func compareEnds(a cqlEnd, op string, b cqlEnd) domain.Expr {
	if a.inf == 0 && b.inf == 0 {
		return compareOperands(op, a.operand, b.operand)
	}
	// Unbounded ends compare as -inf and +inf; two of one sign are equal.
	return domain.Bool{Value: compareLiterals(op, float64(a.inf), float64(b.inf))}
}

// array checks A_*(a, b): the property tags and an array of texts.
func (c *cqlChecker) array(n cqlCall) (domain.Expr, error) {
	op := strings.TrimPrefix(n.op, "a_")
	inverse := map[string]string{"equals": "equals", "contains": "containedby", "containedby": "contains", "overlaps": "overlaps"}
	if _, ok := inverse[op]; !ok {
		return nil, fmt.Errorf("function %s is not supported", n.name)
	}
	if err := n.arity(2); err != nil {
		return nil, err
	}
	var vals [2]cqlValue
	for i, arg := range n.args {
		v, err := c.value(arg)
		if err != nil {
			return nil, err
		}
		if v.typ != "array" {
			return nil, fmt.Errorf("%s compares arrays: the property tags and a list such as ('a', 'b'), not %s", n.name, describe(arg))
		}
		vals[i] = v
	}
	if vals[0].prop != "" && vals[1].prop != "" {
		return nil, fmt.Errorf("%s compares the property tags with a list of values", n.name)
	}
	if vals[0].prop == "" && vals[1].prop != "" {
		vals[0], vals[1], op = vals[1], vals[0], inverse[op]
	}
	var sets [2][]string
	for i, v := range vals {
		if v.prop != "" {
			continue
		}
		for _, it := range v.items {
			if err := c.count(); err != nil {
				return nil, err
			}
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("%s: tags are texts, not %s", n.name, describe(it))
			}
			if !slices.Contains(sets[i], s) {
				sets[i] = append(sets[i], s)
			}
		}
	}
	if vals[0].prop == "" {
		return domain.Bool{Value: arrayRelation(op, sets[0], sets[1])}, nil
	}
	return domain.ArrayPredicate{Op: op, Property: vals[0].prop, Values: sets[1]}, nil
}

// arrayRelation evaluates an array function on two sets.
func arrayRelation(op string, a, b []string) bool {
	subset := func(x, y []string) bool {
		for _, v := range x {
			if !slices.Contains(y, v) {
				return false
			}
		}
		return true
	}
	switch op {
	case "equals":
		return subset(a, b) && subset(b, a)
	case "contains":
		return subset(b, a)
	case "containedby":
		return subset(a, b)
	}
	for _, v := range a {
		if slices.Contains(b, v) {
			return true
		}
	}
	return false
}

// andOf joins predicates with AND, dropping TRUE and reducing to FALSE when
// one is FALSE; orOf likewise for OR.
func andOf(ops ...domain.Expr) domain.Expr { return junction(ops, true) }
func orOf(ops ...domain.Expr) domain.Expr  { return junction(ops, false) }

func junction(ops []domain.Expr, and bool) domain.Expr {
	var keep []domain.Expr
	for _, e := range ops {
		if b, ok := e.(domain.Bool); ok {
			if b.Value != and {
				return b
			}
			continue
		}
		keep = append(keep, e)
	}
	switch len(keep) {
	case 0:
		return domain.Bool{Value: and}
	case 1:
		return keep[0]
	}
	if and {
		return domain.And{Operands: keep}
	}
	return domain.Or{Operands: keep}
}

func notOf(e domain.Expr) domain.Expr {
	if b, ok := e.(domain.Bool); ok {
		return domain.Bool{Value: !b.Value}
	}
	return domain.Not{Operand: e}
}
