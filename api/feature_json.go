package api

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/postwatch/postwatch/geo"
)

// The items hot path writes incident features by appending bytes: encoding
// the typed structs through encoding/json's reflection cost more than the
// query that found them. The output is byte for byte what encoding/json
// writes with HTML escaping off (feature_json_test.go holds it to that), so
// other features and properties can still go through encoding/json.

// appendFeature appends f as encoding/json would write it.
func appendFeature(b []byte, f *feature) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendString(b, f.Type)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, f.ID, 10)
	if f.noGeometry {
		b = append(b, `,"geometry":null`...)
	} else {
		b = append(b, `,"geometry":{"type":`...)
		b = appendString(b, f.Geometry.Type)
		b = append(b, `,"coordinates":[`...)
		b = appendFloat(b, f.Geometry.Coordinates[0])
		b = append(b, ',')
		b = appendFloat(b, f.Geometry.Coordinates[1])
		b = append(b, `]}`...)
	}
	b = append(b, `,"properties":`...)
	start := len(b)
	var err error
	if p, ok := f.Properties.(*incidentProps); ok && p != nil {
		b = appendIncidentProps(b, p)
	} else if b, err = appendMarshal(b, f.Properties); err != nil {
		return b, err
	}
	if f.only != nil {
		if b, err = selectProperties(b, start, f.only); err != nil {
			return b, err
		}
	}
	if len(f.Links) > 0 {
		b = append(b, `,"links":`...)
		b = appendLinks(b, f.Links)
	}
	return append(b, '}'), nil
}

func appendIncidentProps(b []byte, p *incidentProps) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, string(p.Type))
	b = append(b, `,"title":`...)
	b = appendString(b, p.Title)
	b = append(b, `,"description":`...)
	b = appendString(b, p.Description)
	b = append(b, `,"occurred_at":`...)
	b = appendTime(b, p.OccurredAt)
	b = append(b, `,"time_precision":`...)
	b = appendString(b, string(p.TimePrecision))
	b = append(b, `,"location_precision":`...)
	b = appendString(b, string(p.LocationPrecision))
	b = append(b, `,"severity":`...)
	b = strconv.AppendInt(b, int64(p.Severity), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, string(p.Status))
	b = append(b, `,"country":`...)
	b = appendString(b, p.Country)
	b = append(b, `,"facility_id":`...)
	if p.FacilityID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *p.FacilityID, 10)
	}
	b = append(b, `,"actors":`...)
	if p.Actors == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range p.Actors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"actor_id":`...)
			b = appendString(b, a.ActorID)
			b = append(b, `,"role":`...)
			b = appendString(b, string(a.Role))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"casualties":{"killed":`...)
	b = strconv.AppendInt(b, int64(p.Casualties.Killed), 10)
	b = append(b, `,"injured":`...)
	b = strconv.AppendInt(b, int64(p.Casualties.Injured), 10)
	b = append(b, `},"sources":`...)
	if p.Sources == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range p.Sources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"url":`...)
			b = appendString(b, s.URL)
			b = append(b, `,"title":`...)
			b = appendString(b, s.Title)
			b = append(b, `,"published_at":`...)
			if s.PublishedAt == nil {
				b = append(b, "null"...)
			} else {
				b = appendTime(b, *s.PublishedAt)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"tags":`...)
	b = appendStrings(b, p.Tags)
	b = append(b, `,"external_id":`...)
	if p.ExternalID == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *p.ExternalID)
	}
	if len(p.Original) > 0 {
		b = append(b, `,"original":{`...)
		keys := make([]string, 0, len(p.Original))
		for k := range p.Original {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, p.Original[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"created_at":`...)
	b = appendTime(b, p.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, p.UpdatedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(p.Version), 10)
	if p.DistanceM != nil {
		b = append(b, `,"distance_m":`...)
		b = appendFloat(b, *p.DistanceM)
	}
	if a := p.Attribution; a != nil {
		b = append(b, `,"attribution":{"actor_id":`...)
		b = appendString(b, a.ActorID)
		b = append(b, `,"path":`...)
		b = appendStrings(b, a.Path)
		b = append(b, `,"relations":[`...)
		for i, k := range a.Relations {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, string(k))
		}
		b = append(b, "]}"...)
	}
	if len(p.PossibleDuplicates) > 0 {
		b = append(b, `,"possible_duplicates":[`...)
		for i, id := range p.PossibleDuplicates {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// selectProperties rewrites the properties object written from b[start:]
// to hold only the named ones, in the order named (properties=, OGC API –
// Features Part 6). Selection is rare next to whole pages, so it re-reads
// the object rather than burdening every writer with a field filter.
func selectProperties(b []byte, start int, names []string) ([]byte, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b[start:], &all); err != nil {
		return b, err
	}
	b = append(b[:start], '{')
	n := 0
	for _, name := range names {
		v, ok := all[name]
		if !ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, name)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

func appendLinks(b []byte, links []link) []byte {
	b = append(b, '[')
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"href":`...)
		b = appendString(b, l.Href)
		b = append(b, `,"rel":`...)
		b = appendString(b, l.Rel)
		if l.Type != "" {
			b = append(b, `,"type":`...)
			b = appendString(b, l.Type)
		}
		if l.Title != "" {
			b = append(b, `,"title":`...)
			b = appendString(b, l.Title)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendMarshal appends v through encoding/json, HTML escaping off.
func appendMarshal(b []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // Encode ends with a newline
}

// appendTime writes t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, trailing zeros dropped.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat writes f as encoding/json does: the shortest decimal that
// reads back the same, in exponent form only for very large or small values.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...) // never stored: coordinates and distances are finite
	}
	f = geo.NoNegativeZero(f)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// word reads the first eight bytes of s as one little-endian word (the
// compiler makes this one load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether none of the eight bytes of w needs more than
// copying into a JSON string: none is below 0x20, '"', '\\' or outside
// ASCII (whose runes appendString decodes). The tests are the classic
// word-at-a-time ones: a byte below n sets its high bit in (x - n·0x01…)
// &^ x, and a byte equal to v is a zero byte of x ^ v·0x01….
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := func(x uint64, n uint64) uint64 { return (x - ones*n) &^ x & highs }
	special := w&highs | below(w, 0x20) | below(w^(ones*'"'), 1) | below(w^(ones*'\\'), 1)
	return special == 0
}

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping off: control characters escaped, invalid UTF-8 replaced by
// U+FFFD, and U+2028/U+2029 escaped for JavaScript's sake.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight plain bytes at a time: titles and descriptions are mostly
		// printable ASCII, and testing them one by one was an eighth of an
		// items page's CPU.
		if i+8 <= len(s) && plainWord(word(s[i:i+8])) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
