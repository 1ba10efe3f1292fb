// Package web holds the operations map's assets (GET /map), built by
// web/build.mjs from web/src and the npm packages of web/package-lock.json
// into web/dist, which is committed: the Go build embeds it and needs no
// Node, in a clean clone as in production. `make build` rebuilds dist/
// when Node is there, so a change to web/src or the lock file reaches it.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"slices"
)

//go:embed dist
var dist embed.FS

// Asset is one embedded file, ready to serve.
type Asset struct {
	Name        string
	Body        []byte
	ContentType string
}

// Assets are the files of dist/ by name (the directory is flat), the
// page's template (index.html) included.
var Assets map[string]Asset

// Version names this build of the assets: the first 16 hex digits of a
// SHA-256 over every file's name and content. It is part of every asset
// URL, so an asset can be cached for a year and a new build is never
// served from a stale cache.
var Version string

func init() {
	Assets = map[string]Asset{}
	entries, err := fs.ReadDir(dist, "dist")
	if err != nil {
		panic("web: the embedded dist/ is unreadable: " + err.Error())
	}
	h := sha256.New()
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names {
		body, err := dist.ReadFile("dist/" + name)
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
