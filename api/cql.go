package api

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"

	"github.com/postwatch/postwatch/domain"
)

// Bounds on one filter, so that no request can build more than the engines
// evaluate quickly or nest deeper than their expression limits (SQLite's is
// 1,000 levels): a filter is at most MaxFilterLen bytes, nests at most
// MaxFilterDepth levels (parentheses, NOT, function arguments) and holds at
// most MaxFilterNodes operators, operands and list elements.
const (
	MaxFilterLen   = 16000
	MaxFilterDepth = 64
	MaxFilterNodes = 1000
)

// The CQL2 expression as read, before it is checked: the shape of CQL2
// JSON, which both encodings decode to.
type (
	// cqlCall is an operator or function with its arguments; op is lower
	// case ("and", "=", "isnull", "s_intersects", "casei"), name as written.
	cqlCall struct {
		op, name string
		args     []any
	}
	cqlProp    struct{ name string }
	cqlInstant struct {
		t    time.Time
		date bool // DATE('…'): the whole UTC day
	}
	// cqlInterval bounds are cqlInstant, cqlOpen, cqlProp or cqlCall.
	cqlInterval struct{ start, end any }
	cqlOpen     struct{}
	cqlArray    []any
	cqlGeometry struct{ g orb.Geometry }
)

// ParseCQL parses a CQL2 text filter (OGC 21-065r2, CQL2 Text) over the
// given queryables and checks it; see checkCQL for what is supported.
// Errors are EINVALID naming the field "filter".
func ParseCQL(text string, queryables []domain.Queryable) (domain.Expr, error) {
	if len(text) > MaxFilterLen {
		return nil, domain.InvalidField("filter", "is longer than %d bytes", MaxFilterLen)
	}
	if !utf8.ValidString(text) {
		return nil, domain.InvalidField("filter", "is not valid UTF-8")
	}
	toks, err := lexCQL(text)
	if err != nil {
		return nil, domain.InvalidField("filter", "%s", err.Error())
	}
	p := &cqlParser{src: text, toks: toks}
	n, err := p.or(0)
	if err == nil && !p.done() {
		err = p.unexpected()
	}
	if err != nil {
		return nil, domain.InvalidField("filter", "%s", err.Error())
	}
	return checkCQL(n, queryables)
}

type cqlToken struct {
	kind byte // 'i' identifier, 'q' quoted name, 's' string, 'n' number, 'o' operator or punctuation
	text string
	pos  int // byte offset in the source
}

func lexCQL(s string) ([]cqlToken, error) {
	var out []cqlToken
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '\'':
			text, end, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, cqlToken{'s', text, i})
			i = end
		case r == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted name at %d", i)
			}
			out = append(out, cqlToken{'q', s[i+1 : i+1+j], i})
			i += j + 2
		case r == '(' || r == ')' || r == ',' || r == '=':
			out = append(out, cqlToken{'o', string(r), i})
			i++
		case r == '<' || r == '>':
			op := string(r)
			if i+1 < len(s) && (s[i+1] == '=' || (r == '<' && s[i+1] == '>')) {
				op += string(s[i+1])
			}
			out = append(out, cqlToken{'o', op, i})
			i += len(op)
		case r == '-' || r == '+' || r == '.' || (r >= '0' && r <= '9'):
			j := lexNumber(s, i)
			if j == i {
				return nil, fmt.Errorf("unexpected %q at %d (arithmetic is not supported)", r, i)
			}
			out = append(out, cqlToken{'n', s[i:j], i})
			i = j
		case identStart(r):
			j := i + size
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if !identStart(r) && r != '.' && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && r != '\u203F' && r != '\u2040' {
					break
				}
				j += size
			}
			out = append(out, cqlToken{'i', s[i:j], i})
			i = j
		case strings.ContainsRune("*/^%", r):
			return nil, fmt.Errorf("arithmetic is not supported (%q at %d)", r, i)
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", r, i)
		}
	}
	return out, nil
}

func identStart(r rune) bool { return r == ':' || r == '_' || unicode.IsLetter(r) }

// lexString reads the character literal opening at i. A quote inside is
// doubled or written \', and \a \b \t \n \v \f \r are control characters
// (/req/cql2-text/escaping); any other backslash stays, so that LIKE
// patterns keep their escapes (\% is a literal percent sign).
func lexString(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'':
			if j+1 < len(s) && s[j+1] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			return b.String(), j + 1, nil
		case '\\':
			if j+1 >= len(s) {
				b.WriteByte(c)
				continue
			}
			if ctl, ok := map[byte]byte{'\'': '\'', 'a': 7, 'b': 8, 't': 9, 'n': 10, 'v': 11, 'f': 12, 'r': 13}[s[j+1]]; ok {
				b.WriteByte(ctl)
			} else {
				b.WriteByte(c)
				b.WriteByte(s[j+1])
			}
			j++
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string at %d", i)
}

// lexNumber returns the end of the number at i (i itself when there is
// none): [sign] (digits [. [digits]] | . digits) [E [sign] digits].
func lexNumber(s string, i int) int {
	digits := func(j int) int {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	j := i
	if s[j] == '-' || s[j] == '+' {
		j++
	}
	k := digits(j)
	mantissa := k > j
	if k < len(s) && s[k] == '.' {
		l := digits(k + 1)
		mantissa = mantissa || l > k+1
		k = l
	}
	if !mantissa {
		return i
	}
	if k < len(s) && (s[k] == 'e' || s[k] == 'E') {
		e := k + 1
		if e < len(s) && (s[e] == '-' || s[e] == '+') {
			e++
		}
		if d := digits(e); d > e {
			k = d
		}
	}
	return k
}

// cqlParser reads the grammar of OGC 21-065r2 Annex B by recursive descent:
// OR binds loosest, then AND, then NOT; a primary is a literal, a property,
// a function call, a geometry or a parenthesised expression, optionally
// followed by a comparison.
type cqlParser struct {
	src  string
	toks []cqlToken
	pos  int
}

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

func (p *cqlParser) expect(o string) error {
	if p.punct(o) {
		return nil
	}
	if p.done() {
		return fmt.Errorf("missing %s at the end", o)
	}
	if err := p.unexpected(); strings.Contains(err.Error(), "arithmetic") {
		return err
	}
	return fmt.Errorf("expected %s at %d, found %q", o, p.peek().pos, p.peek().text)
}

// unexpected describes the next token, which the grammar does not allow
// where it stands. A signed number after an operand is arithmetic
// ("balance-150"), which postwatch does not support.
func (p *cqlParser) unexpected() error {
	t := p.peek()
	if (t.kind == 'n' && (t.text[0] == '-' || t.text[0] == '+')) || (t.kind == 'i' && strings.EqualFold(t.text, "div")) {
		return fmt.Errorf("arithmetic is not supported (at %d)", t.pos)
	}
	return fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

func tooDeep() error { return fmt.Errorf("nests deeper than %d levels", MaxFilterDepth) }

func (p *cqlParser) or(depth int) (any, error) {
	return p.chain(depth, "OR", p.and)
}

func (p *cqlParser) and(depth int) (any, error) {
	return p.chain(depth, "AND", p.not)
}

// chain reads operands joined by one boolean keyword into one call.
func (p *cqlParser) chain(depth int, kw string, operand func(int) (any, error)) (any, error) {
	first, err := operand(depth)
	if err != nil {
		return nil, err
	}
	args := []any{first}
	for p.keyword(kw) {
		e, err := operand(depth)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return first, nil
	}
	return cqlCall{op: strings.ToLower(kw), name: kw, args: args}, nil
}

func (p *cqlParser) not(depth int) (any, error) {
	if depth > MaxFilterDepth {
		return nil, tooDeep()
	}
	if p.keyword("NOT") {
		e, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return cqlCall{op: "not", name: "NOT", args: []any{e}}, nil
	}
	return p.predicate(depth)
}

// predicate reads a primary and the comparison that may follow it.
func (p *cqlParser) predicate(depth int) (any, error) {
	left, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	negate := false
	if !p.done() && p.peek().kind == 'i' && strings.EqualFold(p.peek().text, "NOT") {
		if p.pos+1 >= len(p.toks) || p.toks[p.pos+1].kind != 'i' || !slicesContainsFold([]string{"LIKE", "BETWEEN", "IN"}, p.toks[p.pos+1].text) {
			return nil, fmt.Errorf("NOT at %d must precede LIKE, BETWEEN or IN", p.peek().pos)
		}
		p.pos++
		negate = true
	}
	var out any
	switch {
	case p.keyword("LIKE"):
		pat, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		out = cqlCall{op: "like", name: "LIKE", args: []any{left, pat}}
	case p.keyword("BETWEEN"):
		lo, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		if !p.keyword("AND") {
			return nil, fmt.Errorf("BETWEEN needs AND")
		}
		hi, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		out = cqlCall{op: "between", name: "BETWEEN", args: []any{left, lo, hi}}
	case p.keyword("IN"):
		if err := p.expect("("); err != nil {
			return nil, fmt.Errorf("IN needs a list in parentheses: %w", err)
		}
		list, err := p.list(depth)
		if err != nil {
			return nil, err
		}
		out = cqlCall{op: "in", name: "IN", args: []any{left, list}}
	case p.keyword("IS"):
		out = cqlCall{op: "isnull", name: "IS NULL", args: []any{left}}
		if p.keyword("NOT") {
			out = cqlCall{op: "not", name: "NOT", args: []any{out}}
		}
		if !p.keyword("NULL") {
			return nil, fmt.Errorf("IS needs NULL")
		}
	case !p.done() && p.peek().kind == 'o' && slicesContainsFold([]string{"=", "<>", "<", "<=", ">", ">="}, p.peek().text):
		op := p.next().text
		right, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		out = cqlCall{op: op, name: op, args: []any{left, right}}
	default:
		return left, nil
	}
	if negate {
		out = cqlCall{op: "not", name: "NOT", args: []any{out}}
	}
	return out, nil
}

func slicesContainsFold(list []string, s string) bool {
	for _, w := range list {
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// list reads array elements after "(" up to the closing ")".
func (p *cqlParser) list(depth int) (cqlArray, error) {
	if depth > MaxFilterDepth {
		return nil, tooDeep()
	}
	out := cqlArray{}
	if p.punct(")") {
		return out, nil
	}
	for {
		e, err := p.argument(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if p.punct(")") {
			return out, nil
		}
		if p.done() {
			return nil, fmt.Errorf("missing ) at the end")
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

// argument reads a function argument or array element: an array in
// parentheses, or any expression.
func (p *cqlParser) argument(depth int) (any, error) {
	if p.punct("(") {
		return p.list(depth)
	}
	return p.or(depth)
}

var wktTypes = []string{"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"}

func (p *cqlParser) primary(depth int) (any, error) {
	if depth > MaxFilterDepth {
		return nil, tooDeep()
	}
	if p.done() {
		return nil, fmt.Errorf("unexpected end")
	}
	t := p.next()
	switch t.kind {
	case 's':
		return t.text, nil
	case 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a finite number", t.text)
		}
		return f, nil
	case 'q':
		return cqlProp{t.text}, nil
	case 'o':
		if t.text == "(" {
			e, err := p.or(depth + 1)
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		}
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	switch {
	case strings.EqualFold(t.text, "TRUE"):
		return true, nil
	case strings.EqualFold(t.text, "FALSE"):
		return false, nil
	case slicesContainsFold(wktTypes, t.text):
		return p.geometry(t)
	}
	if !p.punct("(") {
		return cqlProp{t.text}, nil
	}
	switch strings.ToUpper(t.text) {
	case "TIMESTAMP", "DATE":
		s, err := p.stringArg(t.text)
		if err != nil {
			return nil, err
		}
		return parseCQLInstant(s, strings.EqualFold(t.text, "DATE"))
	case "INTERVAL":
		return p.interval(depth)
	case "BBOX":
		var nums []float64
		for {
			if p.done() || p.peek().kind != 'n' {
				return nil, fmt.Errorf("BBOX takes numbers")
			}
			f, err := strconv.ParseFloat(p.next().text, 64)
			if err != nil {
				return nil, fmt.Errorf("BBOX takes finite numbers")
			}
			nums = append(nums, f)
			if p.punct(")") {
				break
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		return bboxGeometry(nums)
	}
	args, err := p.list(depth + 1)
	if err != nil {
		return nil, err
	}
	return cqlCall{op: strings.ToLower(t.text), name: t.text, args: args}, nil
}

// stringArg reads ('…') after a function name whose "(" was read.
func (p *cqlParser) stringArg(fn string) (string, error) {
	if p.done() || p.peek().kind != 's' {
		return "", fmt.Errorf("%s needs a quoted text argument", fn)
	}
	s := p.next().text
	return s, p.expect(")")
}

// interval reads the arguments of INTERVAL(…, …): instants as text, '..'
// for an open end, or properties.
func (p *cqlParser) interval(depth int) (any, error) {
	var ends []any
	for len(ends) < 2 {
		if len(ends) == 1 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		if !p.done() && p.peek().kind == 's' {
			e, err := intervalEnd(p.next().text)
			if err != nil {
				return nil, err
			}
			ends = append(ends, e)
			continue
		}
		e, err := p.primary(depth + 1)
		if err != nil {
			return nil, err
		}
		ends = append(ends, e)
	}
	return cqlInterval{ends[0], ends[1]}, p.expect(")")
}

// intervalEnd reads an interval bound given as text.
func intervalEnd(s string) (any, error) {
	if s == ".." {
		return cqlOpen{}, nil
	}
	return parseCQLInstant(s, !strings.ContainsAny(s, "Tt"))
}

// parseCQLInstant reads a DATE ('2018-09-08') or TIMESTAMP
// ('2018-09-08T05:00:00Z', RFC 3339, T and Z in either case).
func parseCQLInstant(s string, date bool) (cqlInstant, error) {
	if date {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return cqlInstant{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
		}
		return cqlInstant{d, true}, nil
	}
	// The one RFC 3339 parser of the API: leap seconds, offsets and years
	// as everywhere else.
	t, err := domain.ParseRFC3339(s)
	if err != nil {
		return cqlInstant{}, err
	}
	return cqlInstant{t: t}, nil
}

// geometry reads a WKT literal whose type name is t: the text up to the
// parenthesis that closes the first one, parsed by orb.
func (p *cqlParser) geometry(t cqlToken) (any, error) {
	p.keyword("Z")
	if p.keyword("EMPTY") {
		return cqlGeometry{emptyGeometry(t.text)}, nil
	}
	if p.done() || p.peek().text != "(" {
		return nil, fmt.Errorf("%s needs coordinates in parentheses", strings.ToUpper(t.text))
	}
	start, level, end := p.peek().pos, 0, -1
	for i := start; i < len(p.src) && end < 0; i++ {
		switch p.src[i] {
		case '(':
			level++
		case ')':
			level--
			if level == 0 {
				end = i + 1
			}
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("%s: unbalanced parentheses", strings.ToUpper(t.text))
	}
	for !p.done() && p.peek().pos < end {
		p.pos++
	}
	text := flattenWKT(strings.ToUpper(t.text) + p.src[start:end])
	g, err := wkt.Unmarshal(text)
	if err != nil {
		return nil, fmt.Errorf("%s is not valid WKT: %v", truncate(text, 60), err)
	}
	if err := validGeometry(g); err != nil {
		return nil, fmt.Errorf("%s: %v", strings.ToUpper(t.text), err)
	}
	return cqlGeometry{g}, nil
}

var (
	wktZ     = regexp.MustCompile(`(?i)\b(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\s+Z\b`)
	wktTuple = regexp.MustCompile(`[^(),A-Za-z]+`)
	wktSpace = regexp.MustCompile(`\s*([(),])\s*`)
	// wktMultiPoint is a MULTIPOINT's parenthesis with its members, each
	// "x y" or "(x y)", once flattenWKT has dropped the spaces around
	// commas and parentheses.
	wktMultiPoint = regexp.MustCompile(`(?i)(MULTIPOINT\()((?:[^()]|\([^()]*\))*)\)`)
)

// flattenWKT drops elevations from WKT coordinates (x y z becomes x y, and
// "POINT Z" "POINT"): postwatch's geometries are 2D and its spatial
// predicates are evaluated in 2D, as PostGIS's ST_Intersects and its
// siblings are. It also drops the spaces around parentheses and commas,
// which orb's reader of GEOMETRYCOLLECTION does not take.
func flattenWKT(s string) string {
	s = wktZ.ReplaceAllString(s, "$1")
	s = wktTuple.ReplaceAllStringFunc(s, func(tuple string) string {
		if f := strings.Fields(tuple); len(f) == 3 {
			return " " + f[0] + " " + f[1] + " "
		}
		return tuple
	})
	s = wktSpace.ReplaceAllString(s, "$1")
	return wktMultiPoint.ReplaceAllStringFunc(s, parenthesizeMultiPoint)
}

// parenthesizeMultiPoint writes MULTIPOINT(1 2,3 4) as MULTIPOINT((1 2),(3
// 4)), the only form orb reads. Simple Features' WKT grammar (OGC 06-103r4,
// 7.2.5) puts each point in parentheses, but the bare form is what PostGIS,
// GEOS and GDAL write and read too, so clients send both, even mixed.
func parenthesizeMultiPoint(m string) string {
	open := strings.IndexByte(m, '(')
	members := strings.Split(m[open+1:len(m)-1], ",")
	for i, pt := range members {
		if !strings.HasPrefix(pt, "(") {
			members[i] = "(" + pt + ")"
		}
	}
	return m[:open+1] + strings.Join(members, ",") + ")"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func emptyGeometry(kind string) orb.Geometry {
	switch strings.ToUpper(kind) {
	case "POINT", "MULTIPOINT":
		return orb.MultiPoint{}
	case "LINESTRING", "MULTILINESTRING":
		return orb.MultiLineString{}
	case "POLYGON", "MULTIPOLYGON":
		return orb.MultiPolygon{}
	}
	return orb.Collection{}
}

// validGeometry checks a geometry literal: WGS84 longitudes and latitudes
// (CRS84, the only filter-crs), lines of at least two points, and polygon
// rings closed, of at least four points.
func validGeometry(g orb.Geometry) error {
	points := func(ps []orb.Point) error {
		for _, pt := range ps {
			if math.IsNaN(pt[0]) || math.IsNaN(pt[1]) || pt[0] < -180 || pt[0] > 180 || pt[1] < -90 || pt[1] > 90 {
				return fmt.Errorf("[%g %g] is not a WGS84 longitude and latitude", pt[0], pt[1])
			}
		}
		return nil
	}
	line := func(l orb.LineString) error {
		if len(l) < 2 {
			return fmt.Errorf("a line needs at least two points")
		}
		return points(l)
	}
	polygon := func(poly orb.Polygon) error {
		for _, r := range poly {
			if len(r) < 4 {
				return fmt.Errorf("a polygon ring needs at least four points")
			}
			if r[0] != r[len(r)-1] {
				return fmt.Errorf("the polygon ring is not closed: it starts at [%g %g] and ends at [%g %g]", r[0][0], r[0][1], r[len(r)-1][0], r[len(r)-1][1])
			}
			if err := points(r); err != nil {
				return err
			}
		}
		return nil
	}
	switch g := g.(type) {
	case orb.Point:
		return points([]orb.Point{g})
	case orb.MultiPoint:
		return points(g)
	case orb.LineString:
		return line(g)
	case orb.MultiLineString:
		for _, l := range g {
			if err := line(l); err != nil {
				return err
			}
		}
	case orb.Polygon:
		return polygon(g)
	case orb.MultiPolygon:
		for _, poly := range g {
			if err := polygon(poly); err != nil {
				return err
			}
		}
	case orb.Collection:
		for _, m := range g {
			if err := validGeometry(m); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s geometries are not supported", g.GeoJSONType())
	}
	return nil
}

// bboxGeometry is BBOX(west, south, east, north) as a polygon, or two when
// west > east: the box crosses the antimeridian, as in GeoJSON (RFC 7946,
// 5.2) and the bbox= parameter.
func bboxGeometry(nums []float64) (cqlGeometry, error) {
	if len(nums) == 6 {
		// west, south, min elevation, east, north, max elevation: the
		// elevations are ignored, as in flattenWKT.
		nums = []float64{nums[0], nums[1], nums[3], nums[4]}
	}
	if len(nums) != 4 {
		return cqlGeometry{}, fmt.Errorf("BBOX takes west, south, east, north (and optionally elevations)")
	}
	w, s, e, n := nums[0], nums[1], nums[2], nums[3]
	for _, lon := range []float64{w, e} {
		if !(lon >= -180 && lon <= 180) {
			return cqlGeometry{}, fmt.Errorf("BBOX longitude %g is outside [-180, 180]", lon)
		}
	}
	for _, lat := range []float64{s, n} {
		if !(lat >= -90 && lat <= 90) {
			return cqlGeometry{}, fmt.Errorf("BBOX latitude %g is outside [-90, 90]", lat)
		}
	}
	if s > n {
		return cqlGeometry{}, fmt.Errorf("BBOX south %g is north of north %g", s, n)
	}
	if w <= e {
		return cqlGeometry{orb.Bound{Min: orb.Point{w, s}, Max: orb.Point{e, n}}.ToPolygon()}, nil
	}
	// The two halves run past the antimeridian, to e+360 and from w-360:
	// halves cut at ±180 would each have that meridian as an edge, so a
	// point on it would lie on the boundary and fail S_WITHIN although
	// it is inside the box. No stored longitude lies beyond ±180, so the
	// overhang changes nothing else; both engines read the plane.
	return cqlGeometry{orb.MultiPolygon{
		orb.Bound{Min: orb.Point{w, s}, Max: orb.Point{e + 360, n}}.ToPolygon(),
		orb.Bound{Min: orb.Point{w - 360, s}, Max: orb.Point{e, n}}.ToPolygon(),
	}}, nil
}
