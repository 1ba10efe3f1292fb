package domain

import (
	"context"
	"time"
)

// Token is an API credential. Its secret is never stored.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// Validate checks a token before it is issued.
func (t *Token) Validate() error {
	var p Problems
	validateText(&p, "name", t.Name, MaxTitleLen, true)
	if t.Role == "" {
		p.Add("role", "is required")
	} else {
		enumProblem(&p, "role", t.Role, Roles)
	}
	if t.ExpiresAt != nil {
		CheckTime(&p, "expires_at", *t.ExpiresAt)
	}
	return p.Err()
}

type principalKey struct{}

// WithPrincipal returns a context carrying the authenticated token, whose
// name the store records as the author of changes.
func WithPrincipal(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, principalKey{}, t)
}

// PrincipalName names who acts in ctx: the token's name, or "system" for
// work started outside a request (seeding, imports).
func PrincipalName(ctx context.Context) string {
	if t, ok := ctx.Value(principalKey{}).(*Token); ok && t != nil {
		return t.Name
	}
	return "system"
}
