package store

import "database/sql"

// Row is the first row of a query, or why there is none. GORM's statement
// cache answers QueryRowContext (and Row()) with an empty *sql.Row when the
// statement cannot be prepared (a cancelled request, a lost connection),
// and Scan on that panics; this Scan returns the error instead.
type Row struct {
	rows *sql.Rows
	err  error
}

// FirstRow wraps the result of a query that returns at most one row of
// interest, as from QueryContext or GORM's Rows().
func FirstRow(rows *sql.Rows, err error) Row { return Row{rows, err} }

// Scan reads the first row into dest; sql.ErrNoRows if there is none.
func (r Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}
