package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// openAPI is the parsed OpenAPI document, kept for its query parameters.
type openAPI struct {
	raw   []byte
	Paths map[string]map[string]struct {
		Parameters []openAPIParam `json:"parameters"`
	} `json:"paths"`
	Components struct {
		Parameters map[string]openAPIParam `json:"parameters"`
	} `json:"components"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

func loadOpenAPI(raw []byte) (*openAPI, error) {
	doc := &openAPI{raw: raw}
	if err := json.Unmarshal(raw, doc); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	return doc, nil
}

var ginParam = regexp.MustCompile(`:([A-Za-z]+)`)

// openAPIPath turns a gin path into its OpenAPI form: :featureId →
// {featureId}. A tile's last segment is one gin parameter holding "3.mvt",
// documented as {y}.mvt.
func openAPIPath(ginPath string) string {
	if ginPath == tilePath {
		return "/tiles/{z}/{x}/{y}.mvt"
	}
	return ginParam.ReplaceAllString(ginPath, "{$1}")
}

// queryParams returns the query parameter names the document declares for
// an operation; an operation missing from the document is an error.
func (d *openAPI) queryParams(method, ginPath string) (map[string]bool, error) {
	op, ok := d.Paths[openAPIPath(ginPath)][strings.ToLower(method)]
	if !ok {
		return nil, fmt.Errorf("openapi document lacks %s %s", method, openAPIPath(ginPath))
	}
	names := map[string]bool{}
	for _, p := range op.Parameters {
		if p.Ref != "" {
			ref, ok := d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			if !ok {
				return nil, fmt.Errorf("openapi document: %s %s refers to missing %s", method, ginPath, p.Ref)
			}
			p = ref
		}
		if p.In == "query" {
			names[p.Name] = true
		}
	}
	return names, nil
}

type operation struct{ method, path string }

// sortedOperations lists every operation the document describes, by path.
func sortedOperations(d *openAPI) []operation {
	var out []operation
	for path, ops := range d.Paths {
		for method := range ops {
			out = append(out, operation{strings.ToUpper(method), path})
		}
	}
	slices.SortFunc(out, func(a, b operation) int {
		return cmp.Or(strings.Compare(a.path, b.path), strings.Compare(a.method, b.method))
	})
	return out
}

func lower(s string) string { return strings.ToLower(s) }

// openAPIType is the OpenAPI 3.0 document's media type.
const openAPIType = "application/vnd.oai.openapi+json;version=3.0"

// openapiDoc serves the document as JSON only; its HTML rendering is
// /api.html, the landing page's service-doc.
func (s *Server) openapiDoc(c *gin.Context) {
	if _, err := formatParam(c, []string{"json"}); err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, openAPIType, s.openapi.raw)
}
