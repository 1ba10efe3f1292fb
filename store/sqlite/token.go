package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
)

// tokenPrefix makes postwatch secrets recognisable to secret scanners.
const tokenPrefix = "pw_"

type tokenRow struct {
	ID        int64 `gorm:"primaryKey"`
	Name      string
	Role      string
	Hash      string
	CreatedAt int64 `gorm:"autoCreateTime:false"`
	ExpiresAt *int64
	RevokedAt *int64
}

func (tokenRow) TableName() string { return "tokens" }

func (r *tokenRow) token() domain.Token {
	return domain.Token{ID: r.ID, Name: r.Name, Role: domain.Role(r.Role), CreatedAt: fromMicros(r.CreatedAt),
		ExpiresAt: timePtr(r.ExpiresAt), RevokedAt: timePtr(r.RevokedAt)}
}

// hashSecret is the stored form of a secret. The secrets carry 256 random
// bits, so a plain SHA-256 cannot be brute-forced and needs no salt.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateToken stores a new token and returns its secret, which is not kept.
func (s *Store) CreateToken(ctx context.Context, t *domain.Token) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(s.now()) {
		return "", domain.InvalidField("expires_at", "%s is not in the future", t.ExpiresAt.Format(time.RFC3339))
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t.CreatedAt = s.now()
	row := tokenRow{Name: t.Name, Role: string(t.Role), Hash: hashSecret(secret), CreatedAt: micros(t.CreatedAt), ExpiresAt: microsPtr(t.ExpiresAt)}
	err := translate(s.transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		t.ID = row.ID
		// The snapshot is the token's public record: never its hash.
		return appendHistory(ctx, tx, collTokens, strconv.FormatInt(t.ID, 10), 1, opCreate, t.CreatedAt, domain.PrincipalName(ctx), t)
	}))
	if err != nil {
		t.ID = 0
		return "", err
	}
	return secret, nil
}

// tokenCacheTTL bounds how long a token found in the database is trusted
// without asking again. Revocation through this process takes effect at
// once; a token changed by another process is seen within the TTL.
const tokenCacheTTL = 5 * time.Second

type cachedToken struct {
	token domain.Token
	hash  string
	at    time.Time
	gen   uint64 // s.tokenGen when the lookup began
}

// Authenticate returns the live token whose secret this is, or EUNAUTHORIZED.
// Known tokens are cached briefly: every request authenticates, and a
// database lookup would cost as much as serving a feature.
func (s *Store) Authenticate(ctx context.Context, secret string) (*domain.Token, error) {
	hash := hashSecret(secret)
	// An entry from before the latest revocation may hold a row read before
	// that revocation committed, so it counts as a miss.
	gen := s.tokenGen.Load()
	c, ok := s.tokenCache.Load(hash)
	if !ok || c.(*cachedToken).gen != gen || time.Since(c.(*cachedToken).at) > tokenCacheTTL {
		var row tokenRow
		err := s.read.WithContext(ctx).Where("hash = ?", hash).Take(&row).Error
		if err == gorm.ErrRecordNotFound {
			return nil, domain.Errorf(domain.EUNAUTHORIZED, "unknown token")
		}
		if err != nil {
			return nil, err
		}
		c = &cachedToken{token: row.token(), hash: row.Hash, at: time.Now(), gen: gen}
		s.tokenCache.Store(hash, c)
	}
	cached := c.(*cachedToken)
	// The lookup already matched on the hash; the constant-time comparison
	// keeps the final check free of timing differences all the same.
	if subtle.ConstantTimeCompare([]byte(cached.hash), []byte(hash)) != 1 {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "unknown token")
	}
	t := cached.token
	now := s.now()
	if t.RevokedAt != nil {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "token revoked")
	}
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "token expired")
	}
	return &t, nil
}

// FindTokens lists every token, without secrets.
func (s *Store) FindTokens(ctx context.Context) ([]domain.Token, error) {
	var rows []tokenRow
	if err := s.read.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Token, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

// RevokeToken makes a token unusable from now on; ENOTFOUND if unknown.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	err := translate(s.transact(ctx, func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&tokenRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", micros(now))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return domain.Errorf(domain.ENOTFOUND, "no live token %d", id)
		}
		var row tokenRow
		if err := tx.Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		var version int64
		if err := tx.Model(&historyRow{}).Where("collection = ? AND record_id = ?", collTokens, strconv.FormatInt(id, 10)).Count(&version).Error; err != nil {
			return err
		}
		t := row.token()
		return appendHistory(ctx, tx, collTokens, strconv.FormatInt(id, 10), int(version)+1, opRevoke, now, domain.PrincipalName(ctx), &t)
	}))
	if err == nil {
		// After the commit: every cached entry is now stale, including one a
		// concurrent lookup is about to store from a row read before it.
		s.tokenGen.Add(1)
	}
	return err
}

// TokenHistory returns the versions of a token's record, oldest first:
// its creation and its revocation, each with who did it; ENOTFOUND if it
// never existed.
func (s *Store) TokenHistory(ctx context.Context, id int64) ([]domain.Version[domain.Token], error) {
	return readHistory[domain.Token](ctx, s.read, collTokens, strconv.FormatInt(id, 10))
}

// CountTokens counts tokens that are neither revoked nor expired.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int64
	err := s.read.WithContext(ctx).Model(&tokenRow{}).
		Where("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", micros(s.now())).Count(&n).Error
	return int(n), err
}
