// Package store holds what postwatch's storage engines share: the codec of
// an incident's extra column, version checks, paging and the CQL2 filter
// compiler with the dialect as a parameter. Each engine (store/sqlite,
// store/postgis) builds its SQL on these.
package store

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/postwatch/postwatch/domain"
)

// IncidentExtra is the extra column of an incident: the lists and
// free-form fields that are never filtered on in SQL, as JSON. Actors are
// also kept in incident_actors, which actor= filters use.
type IncidentExtra struct {
	Actors   []domain.IncidentActor `json:"actors"`
	Sources  []domain.Source        `json:"sources"`
	Tags     []string               `json:"tags"`
	Original map[string]string      `json:"original,omitempty"`
}

// EncodeExtra is the extra column of inc: json.Marshal of its
// IncidentExtra, with the original values (the last field) appended by
// AppendOriginal.
func EncodeExtra(inc *domain.Incident) (string, error) {
	b, err := json.Marshal(IncidentExtra{Actors: inc.Actors, Sources: inc.Sources, Tags: inc.Tags})
	if err != nil || len(inc.Original) == 0 {
		return string(b), err
	}
	b = append(b[:len(b)-1], `,"original":`...)
	b = AppendOriginal(b, inc.Original)
	return string(append(b, '}')), nil
}

// AppendOriginal appends to b the JSON object of an incident's original
// values, byte for byte what encoding/json writes for the map (keys in
// byte order, strings escaped as it escapes them, HTML characters
// included), without its reflection: an imported ACLED row holds about 30
// values, encoded twice per record (extra column and history snapshot),
// and encoding/json's map encoder took a tenth of a 100k-row import's CPU.
func AppendOriginal(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json encodes a string: printable
// ASCII other than the quote, the backslash and <, >, & stands as it is;
// anything else goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// DecodeExtra reads an incident's extra column. The store writes it with
// json.Marshal, so it nearly always has one fixed shape with no escapes in
// its strings; that shape is read directly, each string a slice of the
// column's text, at a fraction of encoding/json's cost per feature. Anything
// else — an escape, another order, a field added later — goes to
// encoding/json, which stays the definition of the format.
func DecodeExtra(s string) (IncidentExtra, error) {
	if x, ok := scanExtra(s); ok {
		return x, nil
	}
	var x IncidentExtra
	err := json.Unmarshal([]byte(s), &x)
	return x, err
}

// extraScanner reads the canonical shape; ok turns false at the first
// surprise and stays false.
type extraScanner struct {
	s  string
	ok bool
}

func scanExtra(s string) (IncidentExtra, bool) {
	p := &extraScanner{s: s, ok: true}
	var x IncidentExtra
	p.lit(`{"actors":`)
	if !p.null() {
		x.Actors = []domain.IncidentActor{}
		p.list(func() {
			var a domain.IncidentActor
			p.lit(`{"actor_id":`)
			a.ActorID = p.str()
			p.lit(`,"role":`)
			a.Role = domain.ActorRole(p.str())
			p.lit(`}`)
			x.Actors = append(x.Actors, a)
		})
	}
	p.lit(`,"sources":`)
	if !p.null() {
		x.Sources = []domain.Source{}
		p.list(func() {
			var src domain.Source
			p.lit(`{"url":`)
			src.URL = p.str()
			p.lit(`,"title":`)
			src.Title = p.str()
			p.lit(`,"published_at":`)
			if !p.null() {
				var t time.Time
				err := t.UnmarshalJSON([]byte(`"` + p.str() + `"`))
				p.ok = p.ok && err == nil
				src.PublishedAt = &t
			}
			p.lit(`}`)
			x.Sources = append(x.Sources, src)
		})
	}
	p.lit(`,"tags":`)
	if !p.null() {
		x.Tags = []string{}
		p.list(func() { x.Tags = append(x.Tags, p.str()) })
	}
	if p.ok && strings.HasPrefix(p.s, `,"original":{`) {
		p.s = p.s[len(`,"original":`):]
		x.Original = map[string]string{}
		p.lit(`{`)
		for p.ok && !p.next('}') {
			if len(x.Original) > 0 {
				p.lit(`,`)
			}
			k := p.str()
			p.lit(`:`)
			x.Original[k] = p.str()
		}
	}
	p.lit(`}`)
	return x, p.ok && p.s == ""
}

func (p *extraScanner) lit(want string) {
	if p.ok && strings.HasPrefix(p.s, want) {
		p.s = p.s[len(want):]
		return
	}
	p.ok = false
}

// next consumes c if it comes next.
func (p *extraScanner) next(c byte) bool {
	if p.ok && p.s != "" && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

func (p *extraScanner) null() bool {
	if p.ok && strings.HasPrefix(p.s, "null") {
		p.s = p.s[4:]
		return true
	}
	return false
}

// list reads a JSON array, calling item for each element.
func (p *extraScanner) list(item func()) {
	p.lit(`[`)
	for first := true; p.ok && !p.next(']'); first = false {
		if !first {
			p.lit(`,`)
		}
		item()
	}
}

// str reads a string without escapes; json.Marshal escapes every control
// character, quote and backslash, so a string it wrote ends at the next quote.
// Anything else (an escape, a raw control character, invalid UTF-8) is left
// to encoding/json, which refuses what RFC 8259 §7 does.
func (p *extraScanner) str() string {
	if !p.next('"') {
		p.ok = false
		return ""
	}
	end := strings.IndexByte(p.s, '"')
	if end < 0 || !plainJSONString(p.s[:end]) {
		p.ok = false
		return ""
	}
	v := p.s[:end]
	p.s = p.s[end+1:]
	return v
}

// plainJSONString reports whether s may stand between quotes in JSON as it
// is: valid UTF-8 with no backslash and no control character below U+0020.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(s)
}
