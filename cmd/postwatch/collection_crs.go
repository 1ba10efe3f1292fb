package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/postwatch/postwatch/api"
)

// checkCollectionCRS refuses, before anything is written, a file holding a
// FeatureCollection whose top-level crs member names anything but CRS84
// (RFC 7946 §4; CONTRACT §3), wherever the member is: JSON's members have
// no order, and one written after the features reached the reader only
// once they were stored. It scans the bytes for the collection's own
// members without decoding the features (about 300 MB/s), then puts f back at
// its start. Files that are not seekable are left to readFeatureCollection,
// which refuses such a crs when it comes to it.
func checkCollectionCRS(f *os.File) error {
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	members, err := topMembers(bufio.NewReaderSize(f, 1<<16), "type", "crs")
	if _, serr := f.Seek(0, io.SeekStart); serr != nil {
		return serr
	}
	crs, ok := members["crs"]
	if err != nil || !ok || !bytes.Equal(members["type"].value, []byte(`"FeatureCollection"`)) {
		return nil // not a collection, or a broken one: the import says so
	}
	if err := api.CheckCRS(crs.value, "crs"); err != nil {
		return fmt.Errorf("line %d: %w", crs.line, err)
	}
	return nil
}

// errMemberTooLarge stops a scan whose member is larger than any crs.
var errMemberTooLarge = errors.New("member too large")

// member is a raw member value and the line of its name's colon.
type member struct {
	value []byte
	line  int
}

// topMembers returns the raw values of the members named keys of the text's
// first value, when that is an object, with the lines they stand on; it
// stops at that object's end. Strings are skipped by their quotes and
// escapes, nesting by brackets: enough to find an object's own members in
// valid JSON, which the decoder checks later anyway. It jumps from one
// quote or bracket to the next (bytes.IndexAny), so a collection of a
// million features costs a second or two, not ten.
func topMembers(r *bufio.Reader, keys ...string) (map[string]member, error) {
	found := map[string]member{}
	line, depth, inString, escaped := 1, 0, false, false
	var str, lastString []byte // at depth 1: the string being read, the last one read
	for {
		chunk, err := r.Peek(r.Buffered())
		if len(chunk) == 0 {
			if _, err = r.Peek(1); err == io.EOF {
				return found, nil
			} else if err != nil {
				return nil, err
			}
			continue
		}
		i := 0
		for i < len(chunk) {
			if inString {
				if escaped {
					escaped = false
					if depth == 1 && len(str) <= maxKeyBytes {
						str = append(str, chunk[i])
					}
					i++
					continue
				}
				j := bytes.IndexAny(chunk[i:], `"\`)
				if j < 0 {
					if depth == 1 && len(str) <= maxKeyBytes {
						str = append(str, chunk[i:]...)
					}
					i = len(chunk)
					break
				}
				if depth == 1 && len(str) <= maxKeyBytes {
					str = append(str, chunk[i:i+j+1]...) // a backslash is kept for unquoting
				}
				i += j
				if chunk[i] == '\\' {
					escaped = true
				} else {
					inString = false
					if depth == 1 {
						lastString = unquoteKey(lastString[:0], str[:len(str)-1])
					}
				}
				i++
				continue
			}
			j := bytes.IndexAny(chunk[i:], `"{}[]:,`)
			if j < 0 {
				i = len(chunk)
				break
			}
			i += j
			b := chunk[i]
			i++
			switch b {
			case '"':
				inString, str = true, str[:0]
			case '{', '[':
				if depth == 0 && b != '{' {
					return found, nil
				}
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return found, nil
				}
			case ':':
				if depth == 1 && slices.Contains(keys, string(lastString)) {
					line += bytes.Count(chunk[:i], []byte{'\n'})
					if _, err := r.Discard(i); err != nil {
						return nil, err
					}
					v, end, err := readMemberValue(r, &bytes.Buffer{}, line)
					if err != nil {
						return nil, err
					}
					found[string(lastString)] = member{v, line}
					line = end
					chunk, i = nil, 0 // read on from where the value ended
				}
			case ',':
				lastString = lastString[:0]
			}
			if chunk == nil {
				break
			}
		}
		if chunk != nil {
			line += bytes.Count(chunk, []byte{'\n'})
			if _, err := r.Discard(len(chunk)); err != nil {
				return nil, err
			}
		}
	}
}

// maxKeyBytes bounds how much of a string topMembers keeps as a possible
// member name: enough for any name it looks for, escaped.
const maxKeyBytes = 64

// unquoteKey appends the text of a member name as written between its
// quotes (raw, escapes included) to dst: "cr\\u0073" names crs as much as
// "crs" does. A name that does not unquote is kept as written.
func unquoteKey(dst, raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(dst, raw...)
	}
	var name string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &name); err != nil {
		return append(dst, raw...)
	}
	return append(dst, name...)
}

// readMemberValue reads the JSON value after a member's colon: an object,
// array, string or literal, which ends at the comma or brace after it,
// left unread. It returns the value and the line it ends on.
func readMemberValue(r *bufio.Reader, buf *bytes.Buffer, line int) (value []byte, end int, err error) {
	depth, inString, escaped, started := 0, false, false, false
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, 0, err
		}
		if buf.Len() > 1<<16 {
			return nil, 0, errMemberTooLarge
		}
		if b == '\n' {
			line++
		}
		if !started {
			if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
				continue
			}
			started = true
		}
		if inString {
			buf.WriteByte(b)
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
				if depth == 0 {
					return buf.Bytes(), line, nil
				}
			}
			continue
		}
		if depth == 0 && (b == ',' || b == '}' || b == ']') {
			return bytes.TrimSpace(buf.Bytes()), line, r.UnreadByte()
		}
		buf.WriteByte(b)
		switch b {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return buf.Bytes(), line, nil
			}
		}
	}
}
