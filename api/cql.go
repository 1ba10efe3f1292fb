package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/postwatch/postwatch/domain"
)

// MaxFilterLen bounds a filter expression.
const MaxFilterLen = 4000

// ParseCQL parses a CQL2 text filter (OGC API – Features Part 3) over the
// given queryables: comparisons (= <> < <= > >=), LIKE, IN, BETWEEN,
// IS NULL, each negatable with NOT, joined with AND and OR and grouped by
// parentheses; timestamps as TIMESTAMP('…') or DATE('…'). Errors name the
// field "filter".
func ParseCQL(text string, queryables []domain.Queryable) (domain.Expr, error) {
	if len(text) > MaxFilterLen {
		return nil, domain.InvalidField("filter", "is longer than %d characters", MaxFilterLen)
	}
	toks, err := lexCQL(text)
	if err != nil {
		return nil, domain.InvalidField("filter", "%s", err.Error())
	}
	p := &cqlParser{toks: toks, props: map[string]domain.Queryable{}}
	for _, q := range queryables {
		p.props[q.Name] = q
	}
	expr, err := p.or(0)
	if err == nil && !p.done() {
		err = fmt.Errorf("unexpected %q", p.peek().text)
	}
	if err != nil {
		return nil, domain.InvalidField("filter", "%s", err.Error())
	}
	return expr, nil
}

type cqlToken struct {
	kind byte // 'i' identifier, 's' string, 'n' number, 'o' operator or punctuation
	text string
}

func lexCQL(s string) ([]cqlToken, error) {
	var out []cqlToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string at %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			out = append(out, cqlToken{'s', b.String()})
			i = j + 1
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted name at %d", i)
			}
			out = append(out, cqlToken{'i', s[i+1 : i+1+j]})
			i += j + 2
		case c == '(' || c == ')' || c == ',' || c == '=':
			out = append(out, cqlToken{'o', string(c)})
			i++
		case c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '=' || (c == '<' && s[i+1] == '>')) {
				op += string(s[i+1])
			}
			out = append(out, cqlToken{'o', op})
			i += len(op)
		case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] == '.' || s[j] == 'e' || s[j] == 'E' || (s[j] >= '0' && s[j] <= '9') ||
				((s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			out = append(out, cqlToken{'n', s[i:j]})
			i = j
		case unicode.IsLetter(rune(c)) || c == '_':
			j := i + 1
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			out = append(out, cqlToken{'i', s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return out, nil
}

type cqlParser struct {
	toks  []cqlToken
	pos   int
	props map[string]domain.Queryable
}

// maxCQLDepth bounds nesting, so a hostile filter cannot exhaust the stack.
const maxCQLDepth = 50

func (p *cqlParser) done() bool     { return p.pos >= len(p.toks) }
func (p *cqlParser) peek() cqlToken { return p.toks[min(p.pos, len(p.toks)-1)] }
func (p *cqlParser) next() cqlToken { t := p.peek(); p.pos++; return t }
func (p *cqlParser) keyword(w string) bool {
	if !p.done() && p.peek().kind == 'i' && strings.EqualFold(p.peek().text, w) {
		p.pos++
		return true
	}
	return false
}
func (p *cqlParser) punct(o string) bool {
	if !p.done() && p.peek().kind == 'o' && p.peek().text == o {
		p.pos++
		return true
	}
	return false
}

func (p *cqlParser) or(depth int) (domain.Expr, error) {
	if depth > maxCQLDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxCQLDepth)
	}
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	ops := []domain.Expr{first}
	for p.keyword("OR") {
		e, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		ops = append(ops, e)
	}
	if len(ops) == 1 {
		return first, nil
	}
	return domain.Or{Operands: ops}, nil
}

func (p *cqlParser) and(depth int) (domain.Expr, error) {
	first, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	ops := []domain.Expr{first}
	for p.keyword("AND") {
		e, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		ops = append(ops, e)
	}
	if len(ops) == 1 {
		return first, nil
	}
	return domain.And{Operands: ops}, nil
}

func (p *cqlParser) not(depth int) (domain.Expr, error) {
	if p.keyword("NOT") {
		e, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return domain.Not{Operand: e}, nil
	}
	if p.punct("(") {
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, fmt.Errorf("missing )")
		}
		return e, nil
	}
	return p.comparison()
}

func (p *cqlParser) comparison() (domain.Expr, error) {
	if p.done() {
		return nil, fmt.Errorf("unexpected end")
	}
	t := p.next()
	q, ok := p.props[t.text]
	if t.kind != 'i' || !ok {
		return nil, fmt.Errorf("%q is not a queryable property (see /queryables)", t.text)
	}
	negate := p.keyword("NOT")
	var c domain.Compare
	c.Property = q.Name
	switch {
	case p.keyword("LIKE"):
		if q.Type != "string" {
			return nil, fmt.Errorf("LIKE needs a text property, not %s", q.Name)
		}
		v, err := p.value(q)
		if err != nil {
			return nil, err
		}
		c.Op, c.Values = "like", []any{v}
	case p.keyword("IN"):
		if !p.punct("(") {
			return nil, fmt.Errorf("IN needs a list in parentheses")
		}
		c.Op = "in"
		for {
			v, err := p.value(q)
			if err != nil {
				return nil, err
			}
			c.Values = append(c.Values, v)
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return nil, fmt.Errorf("expected , or ) in the IN list")
			}
		}
	case p.keyword("BETWEEN"):
		lo, err := p.value(q)
		if err != nil {
			return nil, err
		}
		if !p.keyword("AND") {
			return nil, fmt.Errorf("BETWEEN needs AND")
		}
		hi, err := p.value(q)
		if err != nil {
			return nil, err
		}
		c.Op, c.Values = "between", []any{lo, hi}
	case !negate && p.keyword("IS"):
		negate = p.keyword("NOT")
		if !p.keyword("NULL") {
			return nil, fmt.Errorf("IS needs NULL")
		}
		c.Op = "isnull"
	default:
		if negate || p.done() || p.peek().kind != 'o' {
			return nil, fmt.Errorf("expected a comparison after %s", q.Name)
		}
		op := p.next().text
		switch op {
		case "=", "<>", "<", "<=", ">", ">=":
		default:
			return nil, fmt.Errorf("%q is not a comparison", op)
		}
		v, err := p.value(q)
		if err != nil {
			return nil, err
		}
		c.Op, c.Values = op, []any{v}
	}
	if negate {
		return domain.Not{Operand: c}, nil
	}
	return c, nil
}

// value reads a literal of the property's type.
func (p *cqlParser) value(q domain.Queryable) (any, error) {
	if p.done() {
		return nil, fmt.Errorf("a value is missing for %s", q.Name)
	}
	t := p.next()
	switch q.Type {
	case "string":
		if t.kind != 's' {
			return nil, fmt.Errorf("%s takes a 'quoted' text, not %q", q.Name, t.text)
		}
		return t.text, nil
	case "integer", "number":
		if t.kind != 'n' {
			return nil, fmt.Errorf("%s takes a number, not %q", q.Name, t.text)
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", t.text)
		}
		return f, nil
	case "timestamp":
		s := t.text
		if t.kind == 'i' && (strings.EqualFold(s, "TIMESTAMP") || strings.EqualFold(s, "DATE")) {
			if !p.punct("(") || p.done() || p.peek().kind != 's' {
				return nil, fmt.Errorf("%s needs ('…')", s)
			}
			s = p.next().text
			if !p.punct(")") {
				return nil, fmt.Errorf("missing ) after the %s", t.text)
			}
		} else if t.kind != 's' {
			return nil, fmt.Errorf("%s takes TIMESTAMP('…'), not %q", q.Name, t.text)
		}
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return ts.UTC(), nil
		}
		if d, err := time.Parse(time.DateOnly, s); err == nil {
			return d, nil
		}
		return nil, fmt.Errorf("%q is not a timestamp", s)
	}
	return nil, fmt.Errorf("%s cannot be filtered", q.Name)
}
