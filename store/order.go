package store

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/geo"
)

// Order is the sort of incidents a sortby= asks for (OGC API – Features
// Part 8): every term, ending with the id that breaks ties. Both engines
// order, page and make cursors with it, so a cursor means the same on each.
type Order struct {
	Terms []domain.SortTerm
	// Simple: one key (occurred_at or severity) and id in one direction,
	// whose cursor is Key and ID.
	Simple bool
}

// OrderOf is the order of k; "" is -occurred_at.
func OrderOf(k domain.SortKey) Order {
	if k == "" {
		k = domain.SortOccurredAtDesc
	}
	terms := k.Terms()
	if last := terms[len(terms)-1]; last.Field != "id" {
		terms = append(terms, domain.SortTerm{Field: "id", Desc: last.Desc})
	}
	simple := len(terms) == 2 && terms[0].Desc == terms[1].Desc && (terms[0].Field == "occurred_at" || terms[0].Field == "severity")
	return Order{Terms: terms, Simple: simple}
}

// SQL is the ORDER BY list over the columns of the table aliased by prefix.
func (o Order) SQL(prefix string) string {
	parts := make([]string, len(o.Terms))
	for i, t := range o.Terms {
		dir := "ASC"
		if t.Desc {
			dir = "DESC"
		}
		parts[i] = prefix + t.Field + " " + dir
	}
	return strings.Join(parts, ", ")
}

// After is the keyset condition for rows past a cursor and its arguments;
// bind turns a cursor value of a field (microseconds since 1970 for a
// time) into the engine's argument. A simple order compares a row value,
// which its index answers; a mixed one expands to (a > x) OR (a = x AND
// b > y) …, at most one term per sort field.
func (o Order) After(prefix string, c *domain.Cursor, bind func(field string, v any) any) (string, []any) {
	if o.Simple {
		cmp := ">"
		if o.Terms[0].Desc {
			cmp = "<"
		}
		key := o.Terms[0].Field
		return fmt.Sprintf("(%s%s, %sid) %s (?, ?)", prefix, key, prefix, cmp), []any{bind(key, c.Key), c.ID}
	}
	vals := append(slices.Clone(c.Values), c.ID)
	var ors []string
	var args []any
	for i, t := range o.Terms {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, prefix+o.Terms[j].Field+" = ?")
			args = append(args, bind(o.Terms[j].Field, vals[j]))
		}
		cmp := " > ?"
		if t.Desc {
			cmp = " < ?"
		}
		ands = append(ands, prefix+t.Field+cmp)
		args = append(args, bind(t.Field, vals[i]))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// CheckCursor refuses a cursor made for another order, or not made here
// (EINVALID naming cursor).
func (o Order) CheckCursor(c *domain.Cursor, sort domain.SortKey) error {
	if c.Sort != sort {
		return domain.InvalidField("cursor", "was made for sortby=%s, not %s", c.Sort, sort)
	}
	if !o.Simple && len(c.Values) != len(o.Terms)-1 {
		return domain.InvalidField("cursor", "is not a cursor this server issued")
	}
	for i, v := range c.Values {
		switch v := v.(type) {
		case int64, string:
		case float64:
			// JSON gives numbers back as float64; the columns hold integers.
			if v != math.Trunc(v) || math.Abs(v) >= 1<<53 {
				return domain.InvalidField("cursor", "is not a cursor this server issued")
			}
			c.Values[i] = int64(v)
		default:
			return domain.InvalidField("cursor", "is not a cursor this server issued")
		}
	}
	return nil
}

// CursorAt is the cursor of a page that ends with inc.
func (o Order) CursorAt(sort domain.SortKey, inc *domain.Incident) *domain.Cursor {
	c := &domain.Cursor{Sort: sort, ID: inc.ID}
	if o.Simple {
		c.Key = inc.OccurredAt.UnixMicro()
		if o.Terms[0].Field == "severity" {
			c.Key = int64(inc.Severity)
		}
		return c
	}
	for _, t := range o.Terms[:len(o.Terms)-1] {
		c.Values = append(c.Values, sortValue(t.Field, inc))
	}
	return c
}

// IsTimeField reports whether a sort field is a time, whose cursor value
// is microseconds since 1970.
func IsTimeField(field string) bool {
	return field == "occurred_at" || field == "created_at" || field == "updated_at"
}

// sortValue is inc's value of a sort field as a cursor holds it.
func sortValue(field string, inc *domain.Incident) any {
	switch field {
	case "id":
		return inc.ID
	case "occurred_at":
		return inc.OccurredAt.UnixMicro()
	case "created_at":
		return inc.CreatedAt.UnixMicro()
	case "updated_at":
		return inc.UpdatedAt.UnixMicro()
	case "severity":
		return int64(inc.Severity)
	case "type":
		return string(inc.Type)
	case "country":
		return inc.Country
	}
	return inc.Title
}

// PageOfIncidents makes a page of incidents in order, up to f's limit,
// with a cursor when more follow. distance_m is computed here, by
// geo.Distance, on every engine, so it is the same number whichever
// database answered.
func PageOfIncidents(f domain.IncidentFilter, o Order, incs []*domain.Incident, more bool) *domain.IncidentPage {
	limit := f.Page.Limit
	if len(incs) > limit {
		incs, more = incs[:limit], true
	}
	page := &domain.IncidentPage{Items: make([]domain.IncidentHit, 0, len(incs))}
	for _, inc := range incs {
		hit := domain.IncidentHit{Incident: inc}
		if f.Near != nil {
			d := geo.Distance(f.Near.Center, inc.Location)
			hit.DistanceM = &d
		}
		page.Items = append(page.Items, hit)
	}
	if more && len(page.Items) > 0 {
		page.Next = o.CursorAt(f.SortBy, page.Items[len(page.Items)-1].Incident)
	}
	return page
}
