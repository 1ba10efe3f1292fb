// Package web holds the operations map's assets (GET /map): the page's own
// files in web/src, served as they are, and the third-party files that
// web/build.mjs takes from the npm packages of web/package-lock.json into
// web/dist, which is committed: the Go build embeds both and needs no Node,
// in a clean clone as in production. `make build` rebuilds dist/ when Node
// is there, so a change to the lock file reaches it.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"maps"
	"mime"
	"path"
	"slices"
)

//go:embed src dist
var files embed.FS

// Asset is one embedded file, ready to serve.
type Asset struct {
	Name        string
	Body        []byte
	ContentType string
}

// Assets are the files of src/ and dist/ by name (both are flat and share
// no name), the page's template (index.html) included.
var Assets map[string]Asset

// Version names this build of the assets: the first 16 hex digits of a
// SHA-256 over every file's name and content. It is part of every asset
// URL, so an asset can be cached for a year and a new build is never
// served from a stale cache.
var Version string

func init() {
	Assets = map[string]Asset{}
	dirOf := map[string]string{}
	for _, dir := range []string{"src", "dist"} {
		entries, err := fs.ReadDir(files, dir)
		if err != nil {
			panic("web: the embedded " + dir + "/ is unreadable: " + err.Error())
		}
		for _, e := range entries {
			if _, dup := dirOf[e.Name()]; dup {
				panic("web: " + e.Name() + " is in both src/ and dist/")
			}
			if !e.IsDir() {
				dirOf[e.Name()] = dir
			}
		}
	}
	h := sha256.New()
	names := slices.Sorted(maps.Keys(dirOf))
	for _, name := range names {
		body, err := files.ReadFile(dirOf[name] + "/" + name)
		if err != nil {
			panic("web: " + err.Error())
		}
		Assets[name] = Asset{Name: name, Body: body, ContentType: contentType(name)}
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(body)
	}
	Version = hex.EncodeToString(h.Sum(nil))[:16]
}

// contentType is the file's media type; ES modules (.mjs) are JavaScript
// (RFC 9239), which browsers require of module scripts and workers.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".mjs", ".js":
		return "text/javascript; charset=utf-8"
	case ".geojson":
		return "application/geo+json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
