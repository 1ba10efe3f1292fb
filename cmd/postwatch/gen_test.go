package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/seeds"
)

// genOutput runs `gen` in-process and returns what it wrote to stdout.
func genOutput(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"gen"}, args...), &stdout, &stderr)
	return stdout.Bytes(), err
}

func TestGen(t *testing.T) {
	tests := []struct {
		name     string
		a, b     []string
		wantSame bool
	}{
		{"OK/same seed, same bytes", []string{"-n", "500", "--seed", "9"}, []string{"-n", "500", "--seed", "9"}, true},
		{"OK/seed 42 is the default", []string{"-n", "500"}, []string{"-n", "500", "-seed", "42"}, true},
		{"OK/different seed, different bytes", []string{"-n", "500", "--seed", "9"}, []string{"-n", "500", "--seed", "10"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := genOutput(t, tt.a...)
			if err != nil {
				t.Fatal(err)
			}
			b, err := genOutput(t, tt.b...)
			if err != nil {
				t.Fatal(err)
			}
			if same := bytes.Equal(a, b); same != tt.wantSame {
				t.Fatalf("gen %v and gen %v: same output %v, want %v", tt.a, tt.b, same, tt.wantSame)
			}
			if n := bytes.Count(a, []byte("\n")); n != 500 {
				t.Fatalf("%d lines, want 500", n)
			}
		})
	}

	t.Run("OK/-o writes the same bytes as stdout", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "out.geojsonl")
		if _, err := genOutput(t, "-n", "200", "-o", file); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := genOutput(t, "-n", "200")
		if !bytes.Equal(got, want) {
			t.Fatal("the file differs from stdout")
		}
	})

	for _, args := range [][]string{{}, {"-n", "0"}, {"-n", "-3"}, {"-n", "5", "extra"}, {"-n", "many"}} {
		t.Run("ErrUsage/"+fmtArgs(args), func(t *testing.T) {
			out, err := genOutput(t, args...)
			var usage usageError
			if !errors.As(err, &usage) || len(out) != 0 {
				t.Fatalf("gen %v: error %v, %d bytes written; want a usage error and nothing", args, err, len(out))
			}
		})
	}
}

func fmtArgs(args []string) string {
	if len(args) == 0 {
		return "no arguments"
	}
	return strings.Join(args, " ")
}

// TestGenLinesDecode: every line reads back through the importer's decoder
// as the very incident the generator made, with the line's id.
func TestGenLinesDecode(t *testing.T) {
	for i, want := range seeds.Synthetic(2000, 3) {
		line := appendFeatureLine(nil, i, want)
		got, id, err := api.DecodeIncidentFeature(line)
		if err != nil {
			t.Fatalf("line %d: %v\n%s", i, err, line)
		}
		if id != strconv.Itoa(i) {
			t.Fatalf("line %d: id %q", i, id)
		}
		got.ExternalID = &id // as the importer does
		want.ApplyDefaults()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d decodes to\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain words", `a "quoted" \ back`, "tab\tnew\nline\r\x00\x1f", "Basra — البصرة ✓", "bad \xff byte"} {
		got := appendJSONString(nil, s)
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q: %s is not JSON: %v", s, got, err)
			continue
		}
		// encoding/json, like appendJSONString, turns an invalid byte into U+FFFD.
		marshalled, _ := json.Marshal(s)
		json.Unmarshal(marshalled, &want)
		if back != want {
			t.Errorf("%q: reads back as %q, want %q", s, back, want)
		}
	}
}

// TestGenImports: the binary's output imports cleanly with the binary.
func TestGenImports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "synthetic.geojsonl")
	if r := runCLI(t, "gen", "-n", "1000", "--seed", "5", "-o", file); r.code != 0 {
		t.Fatalf("gen: exit %d\nstderr: %s", r.code, r.stderr)
	}
	r := runCLI(t, "import", "--db", filepath.Join(dir, "gen.db"), "--format", "geojson", file)
	if r.code != 0 {
		t.Fatalf("import: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^imported .*: 1000 created, 0 updated, 0 unchanged, 0 rejected$`).MatchString(r.stdout) {
		t.Fatalf("import summary: want \"1000 created, 0 updated, 0 unchanged, 0 rejected\":\n%s", r.stdout)
	}
}
