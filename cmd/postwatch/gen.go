package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
)

// generate writes seeds.Synthetic incidents as GeoJSON Features, one per
// line, in the shape `postwatch import --format geojson` reads. Lines are
// built with strconv.Append* into one reused buffer: encoding/json per line
// would make a million incidents take several times longer.
func generate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gen", stderr)
	n := fs.Int("n", 0, "how many incidents to write (required)")
	seed := fs.Uint64("seed", 42, "random seed; the same seed gives the same bytes")
	out := fs.String("o", "-", "output file; - writes to standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n <= 0 || fs.NArg() != 0 {
		return usageError{"usage: postwatch gen -n N [--seed S] [-o FILE]"}
	}
	start := time.Now()
	w, finish := stdout, func(err error) error { return err }
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		w = f
		finish = func(err error) error {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(*out) // a truncated file must not pass for a data set
			}
			return err
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	line := make([]byte, 0, 1024)
	for i, inc := range seeds.Synthetic(*n, *seed) {
		if i%10_000 == 0 && ctx.Err() != nil {
			return finish(ctx.Err())
		}
		line = appendFeatureLine(line[:0], i, inc)
		if _, err := bw.Write(line); err != nil {
			return finish(err)
		}
	}
	if err := finish(bw.Flush()); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gen: %d incidents (seed %d) in %.1fs\n", *n, *seed, time.Since(start).Seconds())
	return nil
}

// appendFeatureLine appends inc as a one-line GeoJSON Feature with id id.
// It writes the properties seeds.Synthetic sets; a single perpetrator is
// written with the importer's actor_id shorthand.
func appendFeatureLine(b []byte, id int, inc *domain.Incident) []byte {
	b = append(b, `{"type":"Feature","id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"geometry":{"type":"Point","coordinates":[`...)
	b = strconv.AppendFloat(b, inc.Location[0], 'f', 6, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, inc.Location[1], 'f', 6, 64)
	b = append(b, `]},"properties":{"type":`...)
	b = appendJSONString(b, string(inc.Type))
	b = append(b, `,"title":`...)
	b = appendJSONString(b, inc.Title)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, inc.Description)
	b = append(b, `,"occurred_at":"`...)
	b = inc.OccurredAt.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","severity":`...)
	b = strconv.AppendInt(b, int64(inc.Severity), 10)
	if inc.Country != "" {
		b = append(b, `,"country":`...)
		b = appendJSONString(b, inc.Country)
	}
	if len(inc.Actors) == 1 && inc.Actors[0].Role == "perpetrator" {
		b = append(b, `,"actor_id":`...)
		b = appendJSONString(b, inc.Actors[0].ActorID)
	} else if len(inc.Actors) > 0 {
		b = append(b, `,"actors":[`...)
		for i, a := range inc.Actors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"actor_id":`...)
			b = appendJSONString(b, a.ActorID)
			b = append(b, `,"role":`...)
			b = appendJSONString(b, string(a.Role))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}}\n"...)
}

// appendJSONString appends s as a JSON string. Synthetic text never needs
// escaping, but the escapes keep the output valid JSON whatever it holds.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c >= utf8.RuneSelf { // an invalid byte: the replacement character
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
