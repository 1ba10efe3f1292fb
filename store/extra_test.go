package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// FuzzDecodeExtra holds the direct reader of the extra column to
// encoding/json: whenever it accepts a text, encoding/json must read the
// same values from it. The seeds are what the store writes.
func FuzzDecodeExtra(f *testing.F) {
	published := time.Date(2018, 9, 8, 6, 30, 0, 5, time.FixedZone("", 3*3600))
	for _, x := range []IncidentExtra{
		{},
		{Actors: []domain.IncidentActor{}, Sources: []domain.Source{}, Tags: []string{}},
		{Actors: []domain.IncidentActor{{ActorID: "kataib-hezbollah", Role: "suspect"}, {ActorID: "irgc-qf", Role: "sponsor"}},
			Sources: []domain.Source{{URL: "https://example.org/?a=1&b=<2>", Title: "Rockets \"near\" Basra", PublishedAt: &published}, {URL: "u"}},
			Tags:    []string{"basrah", "é漢🚀", ""}, Original: map[string]string{"event_type": "Explosions/Remote violence", "a": "\n"}},
	} {
		data, err := json.Marshal(x)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(`{"actors":[],"sources":[],"tags":["\xff"]}`)
	f.Add(`{"tags":[],"actors":[],"sources":[]}`)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := scanExtra(s)
		if !ok {
			return
		}
		var want IncidentExtra
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("scanExtra accepted %q, which encoding/json rejects: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanExtra(%q) = %+v, encoding/json %+v", s, got, want)
		}
	})
}

// TestDecodeExtraTakesTheFastPath guards the point of DecodeExtra: what the
// store writes is read without encoding/json.
func TestDecodeExtraTakesTheFastPath(t *testing.T) {
	data, _ := json.Marshal(IncidentExtra{Actors: []domain.IncidentActor{{ActorID: "a", Role: "perpetrator"}}, Sources: []domain.Source{}, Tags: []string{"x"}})
	if _, ok := scanExtra(string(data)); !ok {
		t.Fatalf("scanExtra refused the store's own %s", data)
	}
}

// TestEncodeExtraIsEncodingJSON: the extra column with its original values
// appended by AppendOriginal is byte for byte json.Marshal's, whatever the
// values hold (escapes, HTML characters, non-ASCII, invalid UTF-8).
func TestEncodeExtraIsEncodingJSON(t *testing.T) {
	for _, original := range []map[string]string{
		nil,
		{},
		{"event_id_cnty": "IRN1", "notes": "On 2022-01-09, protesters gathered.", "a": ""},
		{"notes": `"quoted" \ back`, "html": "<b>bold</b> & more", "tab\there": "line\nbreak\r\x00\x1f\x7f"},
		{"admin1": "Al Başrah", "actor1": "Kata'ib Hizballah (كتائب حزب الله)", "sep": "a\u2028b\u2029c", "emoji": "🚀"},
		{"bad": "\xff\xfe", "B": "upper sorts first", "b": "then lower", "": "empty key"},
	} {
		inc := &domain.Incident{Actors: []domain.IncidentActor{{ActorID: "a", Role: "perpetrator"}}, Tags: []string{"t"}, Original: original}
		got, err := EncodeExtra(inc)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(IncidentExtra{Actors: inc.Actors, Sources: inc.Sources, Tags: inc.Tags, Original: original})
		if got != string(want) {
			t.Errorf("EncodeExtra with %q:\n%s\nencoding/json:\n%s", original, got, want)
		}
	}
}

// FuzzAppendOriginal holds AppendOriginal to encoding/json's encoding of
// the same map.
func FuzzAppendOriginal(f *testing.F) {
	f.Add("notes", "a <b> & c", "x", "\"\u2028\xff")
	f.Add("", "", "é", "漢")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		want, _ := json.Marshal(m)
		if got := AppendOriginal(nil, m); string(got) != string(want) {
			t.Fatalf("AppendOriginal(%q) = %s, encoding/json %s", m, got, want)
		}
	})
}
