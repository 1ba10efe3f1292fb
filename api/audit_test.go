package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestAuditOfRelationsAndTokens: every change to the actor graph and to
// tokens leaves a version with its author, readable like incident history.
func TestAuditOfRelationsAndTokens(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"irgc-qf", "kh", "ah", "hamas"} {
		e.do("POST", "/actors", map[string]any{"id": id, "name": id}, domain.RoleOfficer).wantStatus(http.StatusCreated)
	}
	vars := map[string]string{}
	wantVersions := func(want ...string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			vs, _ := r.json()["versions"].([]any)
			if len(vs) != len(want)/2 {
				t.Fatalf("%d versions, want %d: %s", len(vs), len(want)/2, r.Body.String())
			}
			for i := range vs {
				if op, by := dig(vs[i], "op"), dig(vs[i], "changed_by"); op != want[2*i] || by != want[2*i+1] {
					t.Errorf("versions[%d] = %v by %v, want %s by %s", i, op, by, want[2*i], want[2*i+1])
				}
				if dig(vs[i], "changed_at") == nil {
					t.Errorf("versions[%d] has no changed_at", i)
				}
			}
		}
	}
	e.runSteps(t, vars, []step{
		{name: "an officer relates QF to KH", method: "POST", url: "/actors/irgc-qf/relations", role: domain.RoleOfficer,
			body: map[string]any{"kind": "directs", "target_id": "kh", "valid_from": "2019-01-01T00:00:00Z"}, status: 201,
			check: func(t *testing.T, r *response) { vars["rel1"] = strconv.Itoa(int(r.json()["id"].(float64))) }},
		{name: "and to AH", method: "POST", url: "/actors/irgc-qf/relations", role: domain.RoleOfficer,
			body: map[string]any{"kind": "sponsors", "target_id": "ah"}, status: 201},
		{name: "an admin deletes the first by id", method: "DELETE", url: "/actors/irgc-qf/relations/{rel1}", role: domain.RoleAdmin, status: 204},
		{name: "and the second by kind and target", method: "DELETE", url: "/actors/irgc-qf/relations?kind=sponsors&target_id=ah", role: domain.RoleAdmin, status: 204},
		{name: "the relations' history holds all four changes with their authors", method: "GET", url: "/actors/irgc-qf/relations/history", role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				wantVersions("create", "officer-tester", "create", "officer-tester", "delete", "admin-tester", "delete", "admin-tester")(t, r)
				vs := r.json()["versions"].([]any)
				if dig(vs[0], "relation", "kind") != "directs" || dig(vs[0], "relation", "target_id") != "kh" || dig(vs[0], "relation", "valid_from") != "2019-01-01T00:00:00Z" {
					t.Errorf("first version's relation: %v", dig(vs[0], "relation"))
				}
				if dig(vs[2], "relation", "id") != dig(vs[0], "relation", "id") || dig(vs[2], "version") != 2.0 {
					t.Errorf("the deletion is not version 2 of the first relation: %v", vs[2])
				}
			}},
		{name: "KH directs AH, under a new id", method: "POST", url: "/actors/kh/relations", role: domain.RoleOfficer,
			body: map[string]any{"kind": "directs", "target_id": "ah"}, status: 201,
			check: func(t *testing.T, r *response) {
				// Ids name histories: a deleted relation's id is never handed out again.
				if id := int(r.json()["id"].(float64)); strconv.Itoa(id) == vars["rel1"] || id <= 2 {
					t.Errorf("relation id %d reused", id)
				}
			}},
		{name: "QF controls KH", method: "POST", url: "/actors/irgc-qf/relations", role: domain.RoleOfficer,
			body: map[string]any{"kind": "controls", "target_id": "kh"}, status: 201},
		{name: "deleting AH", method: "DELETE", url: "/actors/ah", role: domain.RoleAdmin, status: 204},
		{name: "records the deletion of the relation to it", method: "GET", url: "/actors/kh/relations/history", role: domain.RoleAnalyst, status: 200,
			check: wantVersions("create", "officer-tester", "delete", "admin-tester")},
		{name: "deleting KH records the deletion of the relation from QF", method: "DELETE", url: "/actors/kh", role: domain.RoleAdmin, status: 204},
		{name: "QF's trail ends with it", method: "GET", url: "/actors/irgc-qf/relations/history", role: domain.RoleAnalyst, status: 200,
			check: func(t *testing.T, r *response) {
				vs := r.json()["versions"].([]any)
				last := vs[len(vs)-1]
				if dig(last, "op") != "delete" || dig(last, "relation", "kind") != "controls" || dig(last, "changed_by") != "admin-tester" {
					t.Errorf("last change %v", last)
				}
			}},
		{name: "a deleted actor's trail stays readable", method: "GET", url: "/actors/kh/relations/history", role: domain.RoleAnalyst, status: 200,
			check: wantVersions("create", "officer-tester", "delete", "admin-tester")},
		{name: "an actor without relations has an empty trail", method: "GET", url: "/actors/hamas/relations/history", role: domain.RoleAnalyst, status: 200,
			check: wantVersions()},
		{name: "an unknown actor is 404", method: "GET", url: "/actors/nobody/relations/history", role: domain.RoleAnalyst, status: 404},
		{name: "an admin issues a token", method: "POST", url: "/tokens", role: domain.RoleAdmin, body: map[string]any{"name": "field laptop", "role": "officer"}, status: 201,
			check: func(t *testing.T, r *response) { vars["tok"] = strconv.Itoa(int(r.json()["id"].(float64))) }},
		{name: "and revokes it", method: "DELETE", url: "/tokens/{tok}", role: domain.RoleAdmin, status: 204},
		{name: "the token's history says who did both", method: "GET", url: "/tokens/{tok}/history", role: domain.RoleAdmin, status: 200,
			check: func(t *testing.T, r *response) {
				wantVersions("create", "admin-tester", "revoke", "admin-tester")(t, r)
				vs := r.json()["versions"].([]any)
				if dig(vs[1], "token", "revoked_at") == nil || dig(vs[0], "token", "name") != "field laptop" {
					t.Errorf("token snapshots: %v", vs)
				}
				for _, v := range vs {
					if tok, _ := dig(v, "token").(map[string]any); tok["hash"] != nil || tok["token"] != nil {
						t.Errorf("a snapshot holds a secret: %v", tok)
					}
				}
			}},
		{name: "tokens made at setup have a creation too", method: "GET", url: "/tokens/1/history", role: domain.RoleAdmin, status: 200,
			check: wantVersions("create", "system")},
		{name: "an officer may not read token history", method: "GET", url: "/tokens/{tok}/history", role: domain.RoleOfficer, status: 403},
		{name: "an unknown token is 404", method: "GET", url: "/tokens/999/history", role: domain.RoleAdmin, status: 404},
		{name: "a token id that is not a number is 404", method: "GET", url: "/tokens/x/history", role: domain.RoleAdmin, status: 404},
	})
}
