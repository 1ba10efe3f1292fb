package sqlite

import (
	"context"
	"strconv"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

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

// CreateToken stores a new token and returns its secret, which is not kept.
func (s *Store) CreateToken(ctx context.Context, t *domain.Token) (string, error) {
	secret, err := store.NewToken(t, s.now())
	if err != nil {
		return "", err
	}
	row := tokenRow{Name: t.Name, Role: string(t.Role), Hash: store.HashSecret(secret), CreatedAt: micros(t.CreatedAt), ExpiresAt: microsPtr(t.ExpiresAt)}
	err = translate(s.transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		t.ID = row.ID
		// The snapshot is the token's public record: never its hash.
		return appendHistory(ctx, tx, store.CollTokens, strconv.FormatInt(t.ID, 10), 1, store.OpCreate, t.CreatedAt, domain.PrincipalName(ctx), t)
	}))
	if err != nil {
		t.ID = 0
		return "", err
	}
	return secret, nil
}

// Authenticate returns the live token whose secret this is, or EUNAUTHORIZED.
func (s *Store) Authenticate(ctx context.Context, secret string) (*domain.Token, error) {
	return s.tokens.Authenticate(ctx, secret, s.now(), func(ctx context.Context, hash string) (domain.Token, error) {
		var row tokenRow
		if err := s.read.WithContext(ctx).Where("hash = ?", hash).Take(&row).Error; err != nil {
			return domain.Token{}, translate(err)
		}
		return row.token(), nil
	})
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
		if err := tx.Model(&historyRow{}).Where("collection = ? AND record_id = ?", store.CollTokens, strconv.FormatInt(id, 10)).Count(&version).Error; err != nil {
			return err
		}
		t := row.token()
		return appendHistory(ctx, tx, store.CollTokens, strconv.FormatInt(id, 10), int(version)+1, store.OpRevoke, now, domain.PrincipalName(ctx), &t)
	}))
	if err == nil {
		s.tokens.Invalidate()
	}
	return err
}

// TokenHistory returns the versions of a token's record, oldest first:
// its creation and its revocation, each with who did it; ENOTFOUND if it
// never existed.
func (s *Store) TokenHistory(ctx context.Context, id int64) ([]domain.Version[domain.Token], error) {
	return readHistory[domain.Token](ctx, s.read, store.CollTokens, strconv.FormatInt(id, 10))
}

// CountTokens counts tokens that are neither revoked nor expired.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int64
	err := s.read.WithContext(ctx).Model(&tokenRow{}).
		Where("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", micros(s.now())).Count(&n).Error
	return int(n), err
}
