package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/postwatch/postwatch/geo"
)

// Expr is a checked filter expression (OGC API – Features Part 3, CQL2,
// OGC 21-065r2) over an entity's queryable properties. The API builds it
// from CQL2 text or JSON, having checked every property against the
// queryables and every operand's type, and having reduced what no engine
// needs to see: temporal functions and DATE literals become comparisons of
// instants, literal-only predicates become Bool, and spatial and array
// functions name the property first. A store compiles it to SQL.
//
// Evaluation follows SQL's three-valued logic, as CQL2 requires
// (/req/basic-cql2/binary-comparison-predicate C): a comparison with an
// unset property is NULL, NOT NULL is NULL, and a row matches only when the
// whole expression is TRUE.
type Expr interface{ isExpr() }

// And holds when every operand holds; Or when any does; Not negates.
type (
	And struct{ Operands []Expr }
	Or  struct{ Operands []Expr }
	Not struct{ Operand Expr }
)

// Bool is a constant: the literals TRUE and FALSE, or a predicate over
// literals only, evaluated when the filter was read.
type Bool struct{ Value bool }

// Compare tests two operands of one type: Op is one of = <> < <= > >=.
type Compare struct {
	Op          string
	Left, Right Operand
}

// Like matches a text operand against a CQL2 pattern: % matches any run of
// characters, _ one character, and \ takes the next character literally
// (/req/advanced-comparison-operators/like-predicate). Matching is
// case-sensitive; CASEI and ACCENTI have already been applied to Pattern.
type Like struct {
	Value   Operand
	Pattern string
}

// In holds when Value equals one of List.
type In struct {
	Value Operand
	List  []Operand
}

// IsNull holds when Value is unset.
type IsNull struct{ Value Operand }

// Spatial tests the point geometry of a feature against a geometry
// literal. Op is one of the CQL2 spatial functions, lower case and without
// the S_ (intersects, disjoint, within, touches, contains, equals; crosses
// and overlaps never hold for a point and arrive as Bool), always with the
// property first: S_WITHIN(literal, geometry) arrives as contains. Matches
// reports the outcome for a given location of the point.
type Spatial struct {
	Op       string
	Property string
	Geometry orb.Geometry
}

// Matches reports whether Op holds for a point at location loc of Geometry,
// as Simple Features (OGC 06-103r4, 6.1.15) defines the predicates for a
// point: within needs the interior, touches the boundary, and equals and
// contains need the literal to be that very point.
func (s Spatial) Matches(loc geo.Location) bool {
	switch s.Op {
	case "intersects":
		return loc != geo.Exterior
	case "disjoint":
		return loc == geo.Exterior
	case "within":
		return loc == geo.Interior
	case "touches":
		return loc == geo.Boundary
	case "equals", "contains":
		return loc == geo.Interior && IsSinglePoint(s.Geometry)
	}
	return false
}

// IsSinglePoint reports whether g's point set is one point: a Point, or a
// MultiPoint that repeats one point.
func IsSinglePoint(g orb.Geometry) bool {
	switch g := g.(type) {
	case orb.Point:
		return true
	case orb.MultiPoint:
		for _, p := range g {
			if p != g[0] {
				return false
			}
		}
		return len(g) > 0
	}
	return false
}

// ArrayPredicate compares the set of an array property's values with a set
// of text values (/req/array-functions/array-predicates): Op is equals
// (same set), contains (the property's set is a superset of Values),
// containedby (a subset) or overlaps (they share a value). Values holds no
// duplicates. An unset array is the empty set.
type ArrayPredicate struct {
	Op       string
	Property string
	Values   []string
}

func (And) isExpr()            {}
func (Or) isExpr()             {}
func (Not) isExpr()            {}
func (Bool) isExpr()           {}
func (Compare) isExpr()        {}
func (Like) isExpr()           {}
func (In) isExpr()             {}
func (IsNull) isExpr()         {}
func (Spatial) isExpr()        {}
func (ArrayPredicate) isExpr() {}

// Operand is a scalar value in an expression: a Property, a Literal or a
// Fold of one.
type Operand interface{ isOperand() }

// Property is a queryable's value in the row; NULL when unset.
type Property struct{ Name string }

// Literal is a constant: string, float64, bool, or time.Time (UTC) for an
// instant.
type Literal struct{ Value any }

// Fold applies CASEI ("casei", Unicode full case folding) or ACCENTI
// ("accenti", accents and other non-spacing marks stripped) to a text
// operand; folds of literals are applied when the filter is read, so Arg is
// a Property or another Fold.
type Fold struct {
	Func string
	Arg  Operand
}

func (Property) isOperand() {}
func (Literal) isOperand()  {}
func (Fold) isOperand()     {}

// CaseFold is CQL2's CASEI: Unicode full case folding
// (/req/case-insensitive-comparison/casei-function E), so "Straße" and
// "STRASSE" fold alike.
func CaseFold(s string) string {
	if isASCII(s) {
		// Folding ASCII is lowering A-Z; a filter folds every row it
		// tests, and this path costs a fraction of the Caser's.
		return strings.ToLower(s)
	}
	return cases.Fold().String(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// StripAccents is CQL2's ACCENTI: the text in canonical decomposition
// (NFD) without its non-spacing marks (Unicode category Mn), recomposed, so
// "Ḥalab" matches "Halab" and Arabic harakat are ignored
// (/req/accent-insensitive-comparison/accenti-function E).
func StripAccents(s string) string {
	if isASCII(s) {
		return s // ASCII has no marks.
	}
	out, _, err := transform.String(transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), s)
	if err != nil {
		// The transformers fail only on invalid UTF-8, which input
		// validation keeps out; the text is then compared as it is.
		return s
	}
	return out
}

// ApplyFold applies a Fold function ("casei" or "accenti") to text.
func ApplyFold(fn, s string) string {
	if strings.EqualFold(fn, "casei") {
		return CaseFold(s)
	}
	return StripAccents(s)
}

// Queryable describes a property a filter may test.
type Queryable struct {
	Name string
	// Type is string, integer, number, timestamp, geometry (the feature's
	// point) or array (of strings).
	Type   string
	Enum   []string
	Column string // the store's column
	// EmptyIsNull marks text columns that store an unset value as '', which
	// a filter must see as NULL.
	EmptyIsNull bool
	// Nullable marks properties a feature carries as null when unset, so
	// the queryables schema must admit null besides Type.
	Nullable bool
}

// IncidentQueryables are the properties of incidents a filter may test.
var IncidentQueryables = []Queryable{
	// id lets a client ask for what was stored after the last incident it
	// saw (filter=id > 41): the map's live updates use it.
	{Name: "id", Type: "integer", Column: "id"},
	{Name: "type", Type: "string", Enum: enumStrings(IncidentTypes), Column: "type"},
	{Name: "title", Type: "string", Column: "title"},
	{Name: "description", Type: "string", Column: "description", EmptyIsNull: true},
	{Name: "occurred_at", Type: "timestamp", Column: "occurred_at"},
	{Name: "time_precision", Type: "string", Enum: enumStrings(TimePrecisions), Column: "time_precision"},
	{Name: "location_precision", Type: "string", Enum: enumStrings(LocationPrecisions), Column: "location_precision"},
	{Name: "severity", Type: "integer", Column: "severity"},
	{Name: "status", Type: "string", Enum: enumStrings(IncidentStatuses), Column: "status"},
	{Name: "country", Type: "string", Column: "country", EmptyIsNull: true},
	{Name: "facility_id", Type: "integer", Column: "facility_id", Nullable: true},
	{Name: "external_id", Type: "string", Column: "external_id", Nullable: true},
	{Name: "killed", Type: "integer", Column: "killed"},
	{Name: "injured", Type: "integer", Column: "injured"},
	{Name: "version", Type: "integer", Column: "version"},
	{Name: "geometry", Type: "geometry"},
	{Name: "tags", Type: "array"},
}

// FacilityQueryables are the properties of facilities a filter may test.
var FacilityQueryables = []Queryable{
	{Name: "name", Type: "string", Column: "name"},
	{Name: "kind", Type: "string", Enum: enumStrings(FacilityKinds), Column: "kind"},
	{Name: "country", Type: "string", Column: "country", EmptyIsNull: true},
	{Name: "city", Type: "string", Column: "city", EmptyIsNull: true},
	{Name: "posture", Type: "string", Enum: enumStrings(Postures), Column: "posture"},
	{Name: "alert_radius_m", Type: "number", Column: "alert_radius_m"},
	{Name: "version", Type: "integer", Column: "version"},
	{Name: "geometry", Type: "geometry"},
}

// FindQueryable returns the queryable named name, or nil.
func FindQueryable(qs []Queryable, name string) *Queryable {
	for i := range qs {
		if qs[i].Name == name {
			return &qs[i]
		}
	}
	return nil
}

// DayBounds are the first and last microsecond of the UTC day of d: a DATE
// in a filter is an instant of day granularity, so it stands for that span
// when compared with timestamps (OGC 21-065r2, 7.8.1).
func DayBounds(d time.Time) (time.Time, time.Time) {
	start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 0, 1).Add(-time.Microsecond)
}

func enumStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
