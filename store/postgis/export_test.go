package postgis

import "context"

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
