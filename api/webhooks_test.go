package api_test

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/domain"
)

// TestWebhookRoutes: subscriptions are admin business; bad URLs are 400s
// naming url; the secret is shown once.
func TestWebhookRoutes(t *testing.T) {
	e := newEnv(t)
	admin := domain.RoleAdmin
	vars := map[string]string{}
	long := "https://receiver.example/" + strings.Repeat("a", 2048)
	basrah, baghdad := e.createFacility(47.6625, 30.5489, "Basrah"), e.createFacility(44.3955, 33.2986, "Baghdad")
	closed := e.createFacility(43.99, 36.19, "Closed")
	e.do("DELETE", "/collections/facilities/items/"+strconv.FormatInt(closed, 10), nil, admin).wantStatus(204)
	e.runSteps(t, vars, []step{
		{name: "an analyst may not subscribe", method: "POST", url: "/webhooks", role: domain.RoleAnalyst, body: map[string]any{"url": "https://a.example/"}, status: 403},
		{name: "an officer may not subscribe", method: "POST", url: "/webhooks", role: domain.RoleOfficer, body: map[string]any{"url": "https://a.example/"}, status: 403},
		{name: "an officer may not list", method: "GET", url: "/webhooks", role: domain.RoleOfficer, status: 403},
		{name: "no url", method: "POST", url: "/webhooks", role: admin, body: map[string]any{}, status: 400, field: "url"},
		{name: "ftp is not http", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "ftp://a.example/x"}, status: 400, field: "url"},
		{name: "javascript is not http", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "javascript:alert(1)"}, status: 400, field: "url"},
		{name: "file is not http", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "file:///etc/passwd"}, status: 400, field: "url"},
		{name: "a relative URL", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "/hooks"}, status: 400, field: "url"},
		{name: "no host", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "http:///x"}, status: 400, field: "url"},
		{name: "malformed", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "http://a b.example/%zz"}, status: 400, field: "url"},
		{name: "over 2 KB", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": long}, status: 400, field: "url"},
		{name: "url not a string", method: "POST", url: "/webhooks", role: admin, body: `{"url": 5}`, status: 400, field: "url"},
		{name: "severity_min 0", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example/", "severity_min": 0}, status: 400, field: "severity_min"},
		{name: "severity_min 6", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example/", "severity_min": 6}, status: 400, field: "severity_min"},
		{name: "facility not ids", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example/", "facility": []any{-2}}, status: 400, field: "facility[0]"},
		{name: "port 0 cannot be dialled", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "http://127.0.0.1:0/hook"}, status: 400, field: "url"},
		{name: "port past 65535", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example:99999/hook"}, status: 400, field: "url"},
		{name: "an unknown facility", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example/", "facility": []int64{basrah, 999}}, status: 400, field: "facility[1]"},
		{name: "a deleted facility", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example/", "facility": []int64{closed}}, status: 400, field: "facility[0]"},
		{name: "an unknown field", method: "POST", url: "/webhooks", role: admin, body: map[string]any{"url": "https://a.example/", "events": "all"}, status: 400, field: "events"},
		{name: "a subscription shows its secret once", method: "POST", url: "/webhooks", role: admin,
			body: map[string]any{"url": "http://127.0.0.1:9/hook", "facility": []int64{basrah, baghdad}, "severity_min": 3}, status: 201,
			check: func(t *testing.T, r *response) {
				v := r.json()
				secret, _ := v["secret"].(string)
				key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
				if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) != 32 {
					t.Fatalf("secret %q is not whsec_ + base64 of 32 bytes", secret)
				}
				if v["active"] != true || v["url"] != "http://127.0.0.1:9/hook" || v["severity_min"] != float64(3) || len(v["facility"].([]any)) != 2 {
					t.Fatalf("subscription %v", v)
				}
				if !strings.HasSuffix(r.Header().Get("Location"), "/webhooks/"+formatID(v["id"])) {
					t.Fatalf("Location %q", r.Header().Get("Location"))
				}
				vars["id"] = formatID(v["id"])
			}},
		{name: "the list holds no secret", method: "GET", url: "/webhooks", role: admin, status: 200,
			check: func(t *testing.T, r *response) {
				if strings.Contains(r.Body.String(), "whsec_") || strings.Contains(r.Body.String(), `"secret"`) {
					t.Fatalf("a secret in the list: %s", r.Body.String())
				}
				if n := len(r.json()["webhooks"].([]any)); n != 1 {
					t.Fatalf("%d webhooks, want 1", n)
				}
			}},
		{name: "one subscription, no secret", method: "GET", url: "/webhooks/{id}", role: admin, status: 200,
			check: func(t *testing.T, r *response) {
				if strings.Contains(r.Body.String(), "whsec_") || r.json()["active"] != true {
					t.Fatalf("%s", r.Body.String())
				}
			}},
		{name: "no deliveries yet", method: "GET", url: "/webhooks/{id}/deliveries", role: admin, status: 200,
			check: func(t *testing.T, r *response) {
				if n := len(r.json()["deliveries"].([]any)); n != 0 {
					t.Fatalf("%d deliveries", n)
				}
			}},
		{name: "a password in the URL is shown once", method: "POST", url: "/webhooks", role: admin,
			body: map[string]any{"url": "https://soc:s3cret@receiver.example/hook"}, status: 201,
			check: func(t *testing.T, r *response) {
				v := r.json()
				vars["basic"] = strconv.Itoa(int(v["id"].(float64)))
				if v["url"] != "https://soc:s3cret@receiver.example/hook" {
					t.Fatalf("url %v, want it as given", v["url"])
				}
			}},
		{name: "then it is redacted", method: "GET", url: "/webhooks/{basic}", role: admin, status: 200,
			check: func(t *testing.T, r *response) {
				if u := r.json()["url"]; u != "https://soc:xxxxx@receiver.example/hook" {
					t.Fatalf("url %v, want the password redacted", u)
				}
			}},
		{name: "in the list too", method: "GET", url: "/webhooks", role: admin, status: 200,
			check: func(t *testing.T, r *response) {
				if strings.Contains(r.Body.String(), "s3cret") {
					t.Fatalf("the list shows a URL's password: %s", r.Body.String())
				}
			}},
		{name: "delete it", method: "DELETE", url: "/webhooks/{basic}", role: admin, status: 204},
		{name: "an unknown subscription is 404", method: "GET", url: "/webhooks/999", role: admin, status: 404},
		{name: "a malformed id is 404", method: "GET", url: "/webhooks/x", role: admin, status: 404},
		{name: "deliveries of an unknown subscription are 404", method: "GET", url: "/webhooks/999/deliveries", role: admin, status: 404},
		{name: "delete", method: "DELETE", url: "/webhooks/{id}", role: admin, status: 204},
		{name: "deleted is gone", method: "GET", url: "/webhooks/{id}", role: admin, status: 404},
		{name: "deleting twice is 404", method: "DELETE", url: "/webhooks/{id}", role: admin, status: 404},
	})
}

// TestWebhookAllowList: with --webhook-allow, targets outside the allowed
// networks are refused at subscription, naming url.
func TestWebhookAllowList(t *testing.T) {
	e := newEnv(t).withServer(t, api.Options{WebhookAllow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}}, nil, nil)
	for _, c := range []struct {
		url    string
		status int
	}{
		{"http://10.1.2.3:8080/hook", 201},
		{"https://192.0.2.7/hook", 201},
		{"http://127.0.0.1/hook", 400},
		{"http://[::1]/hook", 400},
		{"http://169.254.169.254/latest/meta-data", 400},
		{"http://192.0.2.8/hook", 400},
		{"http://localhost/hook", 400},
		{"http://no-such-host.invalid/hook", 400},
	} {
		r := e.do("POST", "/webhooks", map[string]any{"url": c.url}, domain.RoleAdmin)
		if c.status == 400 {
			r.wantProblem(400, "url")
		} else {
			r.wantStatus(c.status)
		}
	}
}

func formatID(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}
