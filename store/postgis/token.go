package postgis

import (
	"context"
	"strconv"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

const tokenColumns = `id, name, role, created_at, expires_at, revoked_at`

func scanToken(rows interface{ Scan(...any) error }) (domain.Token, error) {
	var t domain.Token
	var role string
	err := rows.Scan(&t.ID, &t.Name, &role, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt)
	t.Role, t.CreatedAt, t.ExpiresAt, t.RevokedAt = domain.Role(role), t.CreatedAt.UTC(), utcPtr(t.ExpiresAt), utcPtr(t.RevokedAt)
	return t, err
}

// CreateToken stores a new token and returns its secret, which is not kept:
// only its SHA-256 is (store.HashSecret).
func (s *Store) CreateToken(ctx context.Context, t *domain.Token) (string, error) {
	secret, err := store.NewToken(t, s.now())
	if err != nil {
		return "", err
	}
	err = s.transact(ctx, func(tx *gorm.DB) error {
		err := store.FirstRow(tx.Raw(`INSERT INTO tokens (name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			t.Name, string(t.Role), store.HashSecret(secret), t.CreatedAt, tsPtr(t.ExpiresAt)).Rows()).Scan(&t.ID)
		if err != nil {
			return err
		}
		// The snapshot is the token's public record: never its hash.
		return appendHistory(tx, store.CollTokens, strconv.FormatInt(t.ID, 10), 1, store.OpCreate, t.CreatedAt, domain.PrincipalName(ctx), t)
	})
	if err != nil {
		t.ID = 0
		return "", err
	}
	return secret, nil
}

// Authenticate returns the live token whose secret this is, or
// EUNAUTHORIZED. Tokens are cached for store.TokenCacheTTL, so a revocation
// on another replica takes effect here within that time.
func (s *Store) Authenticate(ctx context.Context, secret string) (*domain.Token, error) {
	return s.tokens.Authenticate(ctx, secret, s.now(), func(ctx context.Context, hash string) (domain.Token, error) {
		t, err := findOne(s.db.WithContext(ctx), scanToken, domain.Errorf(domain.ENOTFOUND, "unknown token"),
			`SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash)
		if err != nil {
			return domain.Token{}, translate(err)
		}
		return *t, nil
	})
}

// FindTokens lists every token, without secrets.
func (s *Store) FindTokens(ctx context.Context) ([]domain.Token, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT ` + tokenColumns + ` FROM tokens ORDER BY id`).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []domain.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, t)
	}
	return out, translate(rows.Err())
}

// RevokeToken makes a token unusable from now on; ENOTFOUND if unknown or
// already revoked.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	err := s.transact(ctx, func(tx *gorm.DB) error {
		now := s.now()
		t, err := findOne(tx, scanToken, domain.Errorf(domain.ENOTFOUND, "no live token %d", id),
			`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING `+tokenColumns, now, id)
		if err != nil {
			return err
		}
		var version int
		if err := store.FirstRow(tx.Raw(`SELECT count(*) FROM history WHERE collection = ? AND record_id = ?`,
			store.CollTokens, strconv.FormatInt(id, 10)).Rows()).Scan(&version); err != nil {
			return err
		}
		return appendHistory(tx, store.CollTokens, strconv.FormatInt(id, 10), version+1, store.OpRevoke, now, domain.PrincipalName(ctx), t)
	})
	if err == nil {
		s.tokens.Invalidate()
	}
	return err
}

// TokenHistory returns the versions of a token's public record, oldest
// first: its creation and its revocation; ENOTFOUND if it never existed.
func (s *Store) TokenHistory(ctx context.Context, id int64) ([]domain.Version[domain.Token], error) {
	return readHistory[domain.Token](s.db.WithContext(ctx), store.CollTokens, strconv.FormatInt(id, 10))
}

// CountTokens counts tokens that are neither revoked nor expired.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	err := store.FirstRow(s.db.WithContext(ctx).Raw(`SELECT count(*) FROM tokens
		WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`, s.now()).Rows()).Scan(&n)
	return n, translate(err)
}
