package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// tokenPrefix makes postwatch secrets recognisable to secret scanners.
const tokenPrefix = "pw_"

// NewSecret returns a new token secret: "pw_" and 256 random bits in
// unpadded base64url (RFC 4648 §5).
func NewSecret() (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// HashSecret is the stored form of a secret, 64 hex digits. The secrets
// carry 256 random bits, so a plain SHA-256 cannot be brute-forced and needs
// no salt.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// TokenCacheTTL bounds how long a token found in the database is trusted
// without asking again. Revocation through this process takes effect at
// once; a token changed by another process (a replica, `token create`) is
// seen within the TTL. CONTRACT.md §7 gives revocation 5 seconds on every
// replica; the second kept in hand covers the request that finds the entry
// stale and the lookup it makes.
const TokenCacheTTL = 4 * time.Second

// TokenCache remembers tokens by the hash of their secret: every request
// authenticates, and a database lookup would cost as much as serving a
// feature. The zero value is ready to use.
type TokenCache struct {
	m   sync.Map // secret hash → *cachedToken
	gen atomic.Uint64
}

type cachedToken struct {
	token domain.Token
	hash  string
	at    time.Time
	gen   uint64 // the cache's generation when the lookup began
}

// TokenLoader reads the token whose secret has the hash; an error whose
// code is ENOTFOUND means there is none.
type TokenLoader func(ctx context.Context, hash string) (domain.Token, error)

// Authenticate returns the live token whose secret this is at now, or
// EUNAUTHORIZED for an unknown, revoked or expired one; load is asked when
// the cache has no fresh entry.
func (c *TokenCache) Authenticate(ctx context.Context, secret string, now time.Time, load TokenLoader) (*domain.Token, error) {
	hash := HashSecret(secret)
	// An entry from before the latest revocation may hold a row read before
	// that revocation committed, so it counts as a miss.
	gen := c.gen.Load()
	v, ok := c.m.Load(hash)
	if !ok || v.(*cachedToken).gen != gen || time.Since(v.(*cachedToken).at) > TokenCacheTTL {
		t, err := load(ctx, hash)
		if domain.ErrorCodeOf(err) == domain.ENOTFOUND {
			return nil, domain.Errorf(domain.EUNAUTHORIZED, "unknown token")
		}
		if err != nil {
			return nil, err
		}
		v = &cachedToken{token: t, hash: hash, at: time.Now(), gen: gen}
		c.m.Store(hash, v)
	}
	cached := v.(*cachedToken)
	// The lookup already matched on the hash; the constant-time comparison
	// keeps the final check free of timing differences all the same.
	if subtle.ConstantTimeCompare([]byte(cached.hash), []byte(hash)) != 1 {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "unknown token")
	}
	t := cached.token
	if t.RevokedAt != nil {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "token revoked")
	}
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "token expired")
	}
	return &t, nil
}

// Invalidate makes every cached entry stale, including one a concurrent
// lookup is about to store from a row read before; call it after a
// revocation commits.
func (c *TokenCache) Invalidate() { c.gen.Add(1) }

// NewToken checks a token about to be created at now (fields, and an
// expiry in the future), sets its creation time and returns its new
// secret; the caller stores t with HashSecret(secret).
func NewToken(t *domain.Token, now time.Time) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return "", domain.InvalidField("expires_at", "%s is not in the future", t.ExpiresAt.Format(time.RFC3339))
	}
	t.CreatedAt = now
	return NewSecret()
}
