package postgis

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/store"
)

// PreparedPlans reports the named statements of the store's connections
// that contain part, with the generic and custom plans PostgreSQL made for
// each (pg_prepared_statements is per session: open the store with one
// connection to see them all).
func PreparedPlans(ctx context.Context, s *Store, part string) (generic, custom []int64, err error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT generic_plans, custom_plans FROM pg_prepared_statements
		WHERE strpos(statement, ?) > 0`, part).Rows()
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g, c int64
		if err := rows.Scan(&g, &c); err != nil {
			return nil, nil, err
		}
		generic, custom = append(generic, g), append(custom, c)
	}
	return generic, custom, rows.Err()
}

// ReadIncidents is readIncidents: the read of a page's rows by id.
func ReadIncidents(ctx context.Context, s *Store, ids []int64) ([]*domain.Incident, error) {
	return s.readIncidents(ctx, ids)
}

// ExplainPrepared is the EXPLAIN of the store's named statement that
// contains part, run with args (SQL literals) under plan_cache_mode mode:
// "auto" shows the plan its next run would take, the generic one (which
// shows its parameters as $n) once PostgreSQL keeps it;
// "force_custom_plan" the plan made for args. As for PreparedPlans, open
// the store with one connection.
func ExplainPrepared(ctx context.Context, s *Store, part, mode string, args ...string) (string, error) {
	var plan strings.Builder
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var name string
		if err := store.FirstRow(tx.Raw(`SELECT name FROM pg_prepared_statements WHERE strpos(statement, ?) > 0`, part).Rows()).Scan(&name); err != nil {
			return fmt.Errorf("no named statement contains %q: %w", part, err)
		}
		if err := tx.Exec(`SELECT set_config('plan_cache_mode', ?, true)`, mode).Error; err != nil {
			return err
		}
		rows, err := tx.Raw(`EXPLAIN EXECUTE ` + pgx.Identifier{name}.Sanitize() + `(` + strings.Join(args, ", ") + `)`).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	})
	return plan.String(), err
}
