package main

import (
	"bufio"
	"strings"
	"testing"
)

// TestTopMembers: the first object's own members are found wherever they
// stand, with their lines, whatever the strings and nesting before them and
// wherever the reader's buffer ends; members of nested objects and of later
// values are not.
func TestTopMembers(t *testing.T) {
	tests := []struct {
		name, text        string
		wantType, wantCRS string // "" when absent
		crsLine           int
	}{
		{"crs first", `{"crs":{"a":1},"type":"FeatureCollection","features":[]}`, `"FeatureCollection"`, `{"a":1}`, 1},
		{"crs last, on its own line", "{\"type\": \"FeatureCollection\",\n\"features\": [{\"crs\": {\"no\": 1}}],\n\"crs\":\n  {\"a\": \"}]\\\"\"}\n}", `"FeatureCollection"`, `{"a": "}]\""}`, 3},
		{"crs null", `{"type":"FeatureCollection","crs":null,"features":[]}`, `"FeatureCollection"`, `null`, 1},
		{"escaped quotes and brackets in strings", `{"title":"a \"crs\": {[ b","type":"FeatureCollection","x":"\\","crs":"c"}`, `"FeatureCollection"`, `"c"`, 1},
		{"an escaped name", `{"ty\u0070e":"FeatureCollection","features":[],"cr\u0073":{"a":1}}`, `"FeatureCollection"`, `{"a":1}`, 1},
		{"a name with an escaped quote", `{"c\"rs":{"a":1},"type":"x"}`, `"x"`, "", 0},
		{"a key that only begins with crs", `{"crsx":{"a":1},"type":"Feature"}`, `"Feature"`, "", 0},
		{"only the first value", "{\"type\":\"Feature\"}\n{\"crs\":{\"a\":1}}\n", `"Feature"`, "", 0},
		{"not an object", `[{"crs":1}]`, "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{16, 4096} { // bufio's smallest buffer splits every token
				got, err := topMembers(bufio.NewReaderSize(strings.NewReader(tc.text), size), "type", "crs")
				if err != nil {
					t.Fatal(err)
				}
				if string(got["type"].value) != tc.wantType || string(got["crs"].value) != tc.wantCRS || got["crs"].line != tc.crsLine {
					t.Errorf("buffer %d: type %q, crs %q on line %d; want %q, %q on line %d", size,
						got["type"].value, got["crs"].value, got["crs"].line, tc.wantType, tc.wantCRS, tc.crsLine)
				}
			}
		})
	}
}
