package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postwatch/postwatch/docs"
	"github.com/postwatch/postwatch/domain"
)

// TestRoutesMatchOpenAPI checks that the OpenAPI document describes exactly
// the routes the server registers, so the document stays true.
func TestRoutesMatchOpenAPI(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var registered []string
	for _, r := range e.server.Routes() {
		registered = append(registered, r.Method+" "+r.OpenAPIPath)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("documented but not served: %s", d)
		}
	}
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not documented: %s", r)
		}
	}
}

// TestEveryRouteChecksItsRole is generated from the route table: every
// non-public route answers 401 without a token and 403 to each role below
// the one it needs, so a new route cannot ship without a role check.
func TestEveryRouteChecksItsRole(t *testing.T) {
	e := newEnv(t)
	routes := e.server.Routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes in the table", len(routes))
	}
	for _, r := range routes {
		url := strings.NewReplacer(":featureId", "1", ":actorId", "iran", ":relationId", "1", ":tokenId", "1").Replace(r.Path)
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			if r.Public {
				if got := e.do(r.Method, url, nil, "").Code; got == http.StatusUnauthorized {
					t.Fatalf("public route answered 401")
				}
				return
			}
			e.do(r.Method, url, nil, "").wantProblem(http.StatusUnauthorized, "")
			e.do(r.Method, url, nil, "", "Authorization", "Bearer pw_not-a-token").wantProblem(http.StatusUnauthorized, "")
			for _, role := range domain.Roles {
				got := e.doBrief(r.Method, url, role).Code
				if role.Allows(r.Role) {
					if got == http.StatusForbidden || got == http.StatusUnauthorized {
						t.Errorf("role %s got %d, want access", role, got)
					}
				} else if got != http.StatusForbidden {
					t.Errorf("role %s got %d, want 403", role, got)
				}
			}
		})
	}
}

func TestAccessTokenQueryParameter(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/collections?access_token="+e.tokens[domain.RoleAnalyst], nil, "").wantStatus(http.StatusOK)
	e.do("GET", "/collections?access_token=wrong", nil, "").wantProblem(http.StatusUnauthorized, "")
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t)
	r := e.do("PUT", "/collections", nil, domain.RoleAdmin)
	r.wantProblem(http.StatusMethodNotAllowed, "")
	if allow := r.Header().Get("Allow"); !strings.Contains(allow, "GET") {
		t.Fatalf("Allow %q, want it to list GET", allow)
	}
}

func TestHeadIsGetWithoutBody(t *testing.T) {
	e := newEnv(t)
	get := e.do("GET", "/collections", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	head := e.do("HEAD", "/collections", nil, domain.RoleAnalyst).wantStatus(http.StatusOK)
	if head.Header().Get("Content-Type") != get.Header().Get("Content-Type") {
		t.Errorf("HEAD Content-Type %q, GET %q", head.Header().Get("Content-Type"), get.Header().Get("Content-Type"))
	}
	e.do("HEAD", "/collections", nil, "").wantStatus(http.StatusUnauthorized)
}

// doBrief sends a request whose context ends after a moment, so that a
// stream (the alert stream) returns after sending its status.
func (e *env) doBrief(method, url string, role domain.Role) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(method, url, nil).WithContext(ctx)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	return rec
}
