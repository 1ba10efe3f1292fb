package api

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/postwatch/postwatch/domain"
)

// checkJSONText refuses what encoding/json would accept with a silent
// change, naming the member by its path (prefix first):
//   - a member name twice in one object, where encoding/json keeps the
//     last value (RFC 8259 §4: names SHOULD be unique; we insist);
//   - a \u escape of a lone UTF-16 surrogate (\ud800), which encoding/json
//     stores as U+FFFD (RFC 8259 §8.2: such a string is not Unicode text).
//
// It runs on data that encoding/json has parsed, so it may assume valid
// syntax; on anything else it stops quietly and leaves the report to the
// decoder.
func checkJSONText(data []byte, prefix string) error {
	type frame struct {
		object bool
		keys   []string // member names seen so far, objects only
		index  int      // element index, arrays only
		key    string   // the current member's name, objects only
		expect bool     // the next string is a member name
	}
	stack := make([]frame, 0, 8)
	path := func(leaf string) string {
		var b strings.Builder
		b.WriteString(strings.TrimSuffix(prefix, "."))
		for i := range stack {
			f := &stack[i]
			switch {
			case i == len(stack)-1 && leaf != "":
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(leaf)
			case f.object && f.key != "" && !f.expect:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			case !f.object:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, frame{object: true, expect: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
		case ',':
			if len(stack) == 0 {
				return nil
			}
			if top := &stack[len(stack)-1]; top.object {
				top.expect = true
			} else {
				top.index++
			}
		case '"':
			end, lone := scanString(data, i)
			if end < 0 {
				return nil
			}
			isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expect
			if isKey {
				top := &stack[len(stack)-1]
				name := string(data[i+1 : end])
				if strings.IndexByte(name, '\\') >= 0 {
					var s string
					if json.Unmarshal(data[i:end+1], &s) != nil {
						return nil
					}
					name = s
				}
				if lone {
					return domain.InvalidField(path(name), "its name holds a lone UTF-16 surrogate escape, which is not Unicode text")
				}
				for _, k := range top.keys {
					if k == name {
						return domain.InvalidField(path(name), "appears twice in one object; each member may appear once")
					}
				}
				top.keys = append(top.keys, name)
				top.key, top.expect = name, false
			} else if lone {
				return domain.InvalidField(path(""), "holds a lone UTF-16 surrogate escape (such as \\ud800), which is not Unicode text")
			}
			i = end
		}
	}
	return nil
}

// scanString finds the closing quote of the JSON string opening at
// data[start] and reports whether it holds a \u escape of a surrogate
// that is not half of a pair. end is -1 for an unterminated string.
func scanString(data []byte, start int) (end int, lone bool) {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '"':
			return i, lone
		case '\\':
			if i+1 >= len(data) {
				return -1, lone
			}
			if data[i+1] != 'u' {
				i++
				continue
			}
			u, ok := hex4(data, i+2)
			if !ok {
				return -1, lone
			}
			switch {
			case u >= 0xD800 && u <= 0xDBFF:
				// A high surrogate must be followed by \u and a low one.
				if i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					if lo, ok := hex4(data, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 11
						continue
					}
				}
				lone = true
			case u >= 0xDC00 && u <= 0xDFFF:
				lone = true
			}
			i += 5
		}
	}
	return -1, lone
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(data[at:at+4]), 16, 32)
	return rune(v), err == nil
}
