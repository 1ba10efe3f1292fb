package api

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/postwatch/postwatch/domain"
)

// listParams are the queryables that already have a list parameter of the
// same name and meaning (type=ied,drone), which the filter parsers read.
var listParams = []string{"type", "status", "country", "kind", "posture"}

// withQueryableParams adds to where an equality for every queryable given
// as a query parameter (?killed=3, ?time_precision=day): OGC API – Features
// Part 3, Requirements Class "Queryables as Query Parameters". The value is
// read as the queryable's type; a bad one is a 400 naming the parameter.
func withQueryableParams(where domain.Expr, q url.Values, queryables []domain.Queryable) (domain.Expr, error) {
	var ops []domain.Expr
	for _, qb := range queryables {
		if qb.Column == "" {
			continue // geometry and tags: bbox= and filter= test those
		}
		raw, ok := lookup(q, qb.Name)
		if !ok || slices.Contains(listParams, qb.Name) {
			continue
		}
		v, err := queryableValue(qb, raw)
		if err != nil {
			return nil, err
		}
		ops = append(ops, domain.Compare{Op: "=", Left: domain.Property{Name: qb.Name}, Right: domain.Literal{Value: v}})
	}
	if len(ops) == 0 {
		return where, nil
	}
	if where != nil {
		ops = append([]domain.Expr{where}, ops...)
	}
	if len(ops) == 1 {
		return ops[0], nil
	}
	return domain.And{Operands: ops}, nil
}

// queryableValue reads one query parameter value as qb's type.
func queryableValue(qb domain.Queryable, raw string) (any, error) {
	switch qb.Type {
	case "integer":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, domain.InvalidField(qb.Name, "%q is not an integer", raw)
		}
		return float64(n), nil
	case "number":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, domain.InvalidField(qb.Name, "%q is not a number", raw)
		}
		return f, nil
	case "timestamp":
		t, err := domain.ParseRFC3339(raw)
		if err != nil {
			return nil, domain.InvalidField(qb.Name, "%s", err.Error())
		}
		return t, nil
	}
	if qb.Enum != nil && !slices.Contains(qb.Enum, raw) {
		return nil, domain.InvalidField(qb.Name, "%q is not one of %s", raw, strings.Join(qb.Enum, ", "))
	}
	if raw == "" {
		return nil, domain.InvalidField(qb.Name, "is empty")
	}
	return raw, nil
}

// featureShape is how the items of a request are written: properties=
// selects properties (nil: all) and skipGeometry=true writes
// "geometry": null (OGC API – Features Part 6 draft, as pygeoapi and
// ldproxy serve them).
type featureShape struct {
	only       []string
	noGeometry bool
}

// parseShape reads properties= and skipGeometry=; a property name that the
// collection's features never carry is a 400 naming properties.
func parseShape(q url.Values, names []string) (featureShape, error) {
	var sh featureShape
	if v, ok := lookup(q, "properties"); ok {
		list, err := parseStrings("properties", v)
		if err != nil {
			return sh, err
		}
		for _, p := range list {
			if !slices.Contains(names, p) {
				return sh, domain.InvalidField("properties", "%q is not a property of these features; they have %s", p, strings.Join(names, ", "))
			}
		}
		sh.only = list
	}
	if v, ok := lookup(q, "skipGeometry"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return sh, domain.InvalidField("skipGeometry", "must be true or false")
		}
		sh.noGeometry = b
	}
	return sh, nil
}

// apply shapes every feature of a page.
func (sh featureShape) apply(fs []feature) {
	for i := range fs {
		fs[i].only, fs[i].noGeometry = sh.only, sh.noGeometry
	}
}

// incidentPropertyNames are the properties an incident feature may carry.
var incidentPropertyNames = []string{"type", "title", "description", "occurred_at", "time_precision", "location_precision",
	"severity", "status", "country", "facility_id", "actors", "casualties", "sources", "tags", "external_id", "original",
	"created_at", "updated_at", "version", "distance_m", "attribution"}

// facilityPropertyNames are the properties a facility feature may carry.
var facilityPropertyNames = []string{"name", "kind", "country", "city", "alert_radius_m", "posture",
	"created_at", "updated_at", "version", "distance_m"}
