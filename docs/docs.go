// Package docs embeds the OpenAPI document, the one description of the
// HTTP API: it is served at /openapi.json and the API reads from it which
// query parameters each route declares, so the two cannot drift apart.
package docs

import _ "embed"

// OpenAPI is the OpenAPI 3.0 document of the whole API, as JSON.
//
//go:embed openapi.json
var OpenAPI []byte
