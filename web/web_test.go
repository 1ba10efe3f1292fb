package web

import (
	"regexp"
	"strings"
	"testing"
)

// TestAssets: the embedded build has the page, its modules, MapLibre and
// the borders, each with a media type a browser accepts for its use (a
// module script must be JavaScript), and a version that names the build.
func TestAssets(t *testing.T) {
	for _, name := range []string{"index.html", "main.js", "maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css", "map.css", "pages.css", "countries.geojson"} {
		if _, ok := Assets[name]; !ok {
			t.Errorf("the embedded assets lack %s", name)
		}
	}
	for name, a := range Assets {
		want := map[string]string{".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html", ".geojson": "application/geo+json", ".txt": "text/plain"}[name[strings.LastIndex(name, "."):]]
		if want == "" || !strings.HasPrefix(a.ContentType, want) {
			t.Errorf("%s: Content-Type %q, want %q", name, a.ContentType, want)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(Version) {
		t.Errorf("Version %q is not 16 hex digits", Version)
	}
	if !strings.Contains(string(Assets["index.html"].Body), `src="{{.Assets}}/main.js"`) {
		t.Error("index.html does not load main.js from the versioned asset path")
	}
}
