package api

import "testing"

// TestPageURLMatchesWithParam: the links built from one parsed URL are the
// strings withParam gives when applied pair after pair, so clients see the
// same self, alternate and next links as before.
func TestPageURLMatchesWithParam(t *testing.T) {
	urls := []string{
		"http://h/collections/incidents/items",
		"http://h/collections/incidents/items?limit=5&offset=3&bbox=44,33,45,34&type=protest",
		"https://ops.example.org/pw%20x/collections/incidents/items?f=csv&cursor=old&access_token=a%2Bb",
		"http://h/collections/incidents/items?filter=title%20LIKE%20%27a%25%27&filter-lang=cql2-text&type=a&type=b",
		"http://[::1]:8080/items?q=caf%C3%A9&empty=",
		"http://h/items?bad=%zz", // parsed query drops what it cannot read, as withParam's did
		"://not a url",
	}
	pairs := [][]string{
		{"f", "json"},
		{"f", "html"},
		{"cursor", "abc", "offset", "", "f", "csv"},
		{"offset", ""},
	}
	for _, raw := range urls {
		p := parsePageURL(raw)
		for _, kv := range pairs {
			want := raw
			for i := 0; i < len(kv); i += 2 {
				want = withParam(want, kv[i], kv[i+1])
			}
			if got := p.with(kv...); got != want {
				t.Errorf("%s with %v = %q, want %q", raw, kv, got, want)
			}
		}
		// Building one link must not change the next one's base.
		if a, b := p.with("f", "json"), p.with("f", "json"); a != b {
			t.Errorf("%s: the second link %q differs from the first %q", raw, b, a)
		}
	}
}
