package domain

// Expr is a parsed filter expression (OGC API – Features Part 3, CQL2)
// over an entity's queryable properties; the store compiles it to SQL.
type Expr interface{ isExpr() }

// And holds when every operand holds; Or when any does; Not negates.
type (
	And struct{ Operands []Expr }
	Or  struct{ Operands []Expr }
	Not struct{ Operand Expr }
)

// Compare tests a property against values: Op is one of = <> < <= > >=
// (one value), like (one string pattern, % and _ wildcards), in (a list),
// between (two values) or isnull (none).
type Compare struct {
	Property string
	Op       string
	Values   []any // string, float64, bool, or time.Time for timestamps
}

func (And) isExpr()     {}
func (Or) isExpr()      {}
func (Not) isExpr()     {}
func (Compare) isExpr() {}

// Queryable describes a property a filter may test.
type Queryable struct {
	Name   string
	Type   string // string, integer, number, timestamp
	Enum   []string
	Column string // the store's column
}

// IncidentQueryables are the properties of incidents a filter may test.
var IncidentQueryables = []Queryable{
	// id lets a client ask for what was stored after the last incident it
	// saw (filter=id > 41): the map's live updates use it.
	{Name: "id", Type: "integer", Column: "id"},
	{Name: "type", Type: "string", Enum: enumStrings(IncidentTypes), Column: "type"},
	{Name: "title", Type: "string", Column: "title"},
	{Name: "description", Type: "string", Column: "description"},
	{Name: "occurred_at", Type: "timestamp", Column: "occurred_at"},
	{Name: "time_precision", Type: "string", Enum: enumStrings(TimePrecisions), Column: "time_precision"},
	{Name: "location_precision", Type: "string", Enum: enumStrings(LocationPrecisions), Column: "location_precision"},
	{Name: "severity", Type: "integer", Column: "severity"},
	{Name: "status", Type: "string", Enum: enumStrings(IncidentStatuses), Column: "status"},
	{Name: "country", Type: "string", Column: "country"},
	{Name: "facility_id", Type: "integer", Column: "facility_id"},
	{Name: "external_id", Type: "string", Column: "external_id"},
	{Name: "killed", Type: "integer", Column: "killed"},
	{Name: "injured", Type: "integer", Column: "injured"},
	{Name: "version", Type: "integer", Column: "version"},
}

// FacilityQueryables are the properties of facilities a filter may test.
var FacilityQueryables = []Queryable{
	{Name: "name", Type: "string", Column: "name"},
	{Name: "kind", Type: "string", Enum: enumStrings(FacilityKinds), Column: "kind"},
	{Name: "country", Type: "string", Column: "country"},
	{Name: "city", Type: "string", Column: "city"},
	{Name: "posture", Type: "string", Enum: enumStrings(Postures), Column: "posture"},
	{Name: "alert_radius_m", Type: "number", Column: "alert_radius_m"},
	{Name: "version", Type: "integer", Column: "version"},
}

func enumStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
