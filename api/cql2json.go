package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/paulmach/orb/geojson"

	"github.com/postwatch/postwatch/domain"
)

// ParseCQL2JSON parses a CQL2 JSON filter (OGC 21-065r2, CQL2 JSON, the
// schema cql2.json) over the given queryables and checks it like ParseCQL:
// operators as {"op": "and", "args": [...]}, properties as
// {"property": "type"}, instants as {"timestamp": "…"} or {"date": "…"},
// intervals as {"interval": [a, b]}, geometries as GeoJSON or
// {"bbox": [w, s, e, n]}, arrays as JSON arrays. Errors are EINVALID naming
// the field "filter".
func ParseCQL2JSON(text string, queryables []domain.Queryable) (domain.Expr, error) {
	if len(text) > MaxFilterLen {
		return nil, domain.InvalidField("filter", "is longer than %d bytes", MaxFilterLen)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, domain.InvalidField("filter", "is not CQL2 JSON: %v", err)
	}
	if dec.More() {
		return nil, domain.InvalidField("filter", "holds more than one JSON value")
	}
	n, err := fromJSON(v, 0)
	if err != nil {
		return nil, domain.InvalidField("filter", "%s", err.Error())
	}
	return checkCQL(n, queryables)
}

// fromJSON turns decoded CQL2 JSON into the expression as read.
func fromJSON(v any, depth int) (any, error) {
	if depth > MaxFilterDepth {
		return nil, tooDeep()
	}
	switch v := v.(type) {
	case nil:
		return nil, fmt.Errorf("null is not a CQL2 value")
	case bool, string:
		return v, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s is not a finite number", v)
		}
		return f, nil
	case []any:
		out := cqlArray{}
		for _, e := range v {
			n, err := fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case map[string]any:
		return objectFromJSON(v, depth)
	}
	return nil, fmt.Errorf("unexpected JSON value")
}

func objectFromJSON(m map[string]any, depth int) (any, error) {
	only := func(key string) error {
		if len(m) != 1 {
			return fmt.Errorf("an object with %q has no other members", key)
		}
		return nil
	}
	text := func(key string) (string, error) {
		s, ok := m[key].(string)
		if !ok {
			return "", fmt.Errorf("%q takes a text", key)
		}
		return s, only(key)
	}
	switch {
	case m["op"] != nil:
		name, ok := m["op"].(string)
		raw, okArgs := m["args"].([]any)
		if !ok || (m["args"] != nil && !okArgs) || len(m) > 2 || (len(m) == 2 && m["args"] == nil) {
			return nil, fmt.Errorf(`an operation is {"op": "…", "args": [...]}`)
		}
		args := make([]any, 0, len(raw))
		for _, a := range raw {
			n, err := fromJSON(a, depth+1)
			if err != nil {
				return nil, err
			}
			args = append(args, n)
		}
		op := strings.ToLower(name)
		if op == "in" && len(args) == 2 {
			// The list of IN is a JSON array, already a cqlArray.
			if _, ok := args[1].(cqlArray); !ok {
				return nil, fmt.Errorf("in takes a value and an array")
			}
		}
		return cqlCall{op: op, name: name, args: args}, nil
	case m["property"] != nil:
		s, err := text("property")
		return cqlProp{s}, err
	case m["timestamp"] != nil:
		s, err := text("timestamp")
		if err != nil {
			return nil, err
		}
		return parseCQLInstant(s, false)
	case m["date"] != nil:
		s, err := text("date")
		if err != nil {
			return nil, err
		}
		return parseCQLInstant(s, true)
	case m["interval"] != nil:
		ends, ok := m["interval"].([]any)
		if !ok || len(ends) != 2 {
			return nil, fmt.Errorf("an interval takes two ends")
		}
		if err := only("interval"); err != nil {
			return nil, err
		}
		var out [2]any
		for i, e := range ends {
			var err error
			if s, ok := e.(string); ok {
				out[i], err = intervalEnd(s)
			} else {
				out[i], err = fromJSON(e, depth+1)
			}
			if err != nil {
				return nil, err
			}
		}
		return cqlInterval{out[0], out[1]}, nil
	case m["bbox"] != nil:
		raw, ok := m["bbox"].([]any)
		if !ok {
			return nil, fmt.Errorf("bbox takes numbers")
		}
		if err := only("bbox"); err != nil {
			return nil, err
		}
		nums := make([]float64, len(raw))
		for i, r := range raw {
			n, ok := r.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil {
				return nil, fmt.Errorf("bbox takes numbers")
			}
			nums[i] = f
		}
		return bboxGeometry(nums)
	case m["type"] != nil:
		return geometryFromJSON(m)
	}
	return nil, fmt.Errorf("an object must be an operation, a property, a timestamp, a date, an interval, a bbox or a GeoJSON geometry")
}

// geometryFromJSON reads a GeoJSON geometry (RFC 7946) through orb.
func geometryFromJSON(m map[string]any) (any, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte(`"crs"`)) {
		return nil, fmt.Errorf("a geometry in a filter is CRS84 and has no crs member")
	}
	g, err := geojson.UnmarshalGeometry(data)
	if err != nil {
		return nil, fmt.Errorf("%v is not a GeoJSON geometry: %v", m["type"], err)
	}
	geom := g.Geometry()
	if geom == nil {
		return nil, fmt.Errorf("%v is not a GeoJSON geometry", m["type"])
	}
	if err := validGeometry(geom); err != nil {
		return nil, err
	}
	return cqlGeometry{geom}, nil
}
