package postgis

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/paulmach/orb/encoding/wkb"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
	"github.com/postwatch/postwatch/store"
)

// dialect is PostgreSQL's store.Dialect over the table aliased i.
type dialect struct{}

// Column is the queryable's column; an integer column is compared as a
// float8, since a parameter compared with an integer column would be taken
// as an integer and 2.5 could not be bound.
func (dialect) Column(q domain.Queryable) string {
	col := "i." + q.Column
	if q.EmptyIsNull {
		col = "NULLIF(" + col + ", '')"
	}
	if q.Type == "integer" {
		col = "CAST(" + col + " AS float8)"
	}
	return col
}

// Bind binds times as stored (ts); other literals as they are.
func (dialect) Bind(v any) any {
	if t, ok := v.(time.Time); ok {
		return ts(t)
	}
	return v
}

// Fold is pw_casei or pw_accenti (see migrate.go), which fold as
// domain.ApplyFold does for the text the contract's tests use.
func (dialect) Fold(fn, expr string) string { return "pw_" + fn + "(" + expr + ")" }

// Like is PostgreSQL's LIKE, which is case-sensitive and escapes with \;
// the text columns are COLLATE "C", so it compares bytes as SQLite's GLOB.
func (dialect) Like(expr, pattern string) (string, []any) {
	return "(" + expr + " LIKE ?)", []any{pattern}
}

// spatialTests are the PostGIS tests of where a row's point lies relative
// to a geometry g (DE-9IM, OGC 06-103r4): in its interior, on its boundary,
// or outside it.
var spatialTests = map[geo.Location]string{
	geo.Interior: "ST_Contains(g.g, i.geom)",
	geo.Boundary: "ST_Touches(i.geom, g.g)",
	geo.Exterior: "ST_Disjoint(i.geom, g.g)",
}

// Spatial holds where s.Matches the row point's location: the GiST index
// prefilters with the geometry's box unless the exterior matches (a
// disjoint test reaches every row), and PostGIS decides.
func (dialect) Spatial(s domain.Spatial) (string, []any, error) {
	data, err := wkb.Marshal(s.Geometry)
	if err != nil {
		return "", nil, domain.InvalidField("filter", "%s geometries are not supported", s.Geometry.GeoJSONType())
	}
	var tests []string
	exterior := false
	for _, loc := range []geo.Location{geo.Interior, geo.Boundary, geo.Exterior} {
		if s.Matches(loc) {
			tests = append(tests, spatialTests[loc])
			exterior = exterior || loc == geo.Exterior
		}
	}
	if len(tests) == 0 {
		return "(1 = 0)", nil, nil
	}
	cond := "(" + strings.Join(tests, " OR ") + ")"
	if !exterior {
		cond = "(i.geom && g.g AND " + cond + ")"
	}
	// As hex text: GORM would spell a []byte argument out as a list.
	return "EXISTS (SELECT 1 FROM (SELECT ST_GeomFromWKB(decode(?, 'hex'), 4326) AS g) g WHERE " + cond + ")", []any{hex.EncodeToString(data)}, nil
}

// Array compares the set of the extra column's tags with a.Values; an
// incident without tags has the empty set.
func (dialect) Array(a domain.ArrayPredicate) (string, []any) {
	tags := "coalesce(CAST(i.extra AS jsonb) -> 'tags', '[]'::jsonb)"
	values := a.Values
	if values == nil {
		values = []string{}
	}
	list, _ := json.Marshal(values)
	switch a.Op {
	case "contains":
		return "(" + tags + " @> CAST(? AS jsonb))", []any{string(list)}
	case "containedby":
		return "(" + tags + " <@ CAST(? AS jsonb))", []any{string(list)}
	case "equals":
		return "(" + tags + " @> CAST(? AS jsonb) AND " + tags + " <@ CAST(? AS jsonb))", []any{string(list), string(list)}
	}
	return "EXISTS (SELECT 1 FROM jsonb_array_elements_text(" + tags + ") t WHERE t = ANY (CAST(? AS text[])))", []any{pgTextArray(values)}
}

// pgTextArray is a text[] literal of values, each double-quoted with its
// quotes and backslashes escaped (PostgreSQL §8.15.6).
func pgTextArray(values []string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = `"` + esc.Replace(v) + `"`
	}
	return "{" + strings.Join(q, ",") + "}"
}

// compile compiles a filter over queryables for the table aliased i.
func compile(e domain.Expr, queryables []domain.Queryable) (string, []any, error) {
	return store.CompileFilter(e, queryables, dialect{})
}
