package duckdb

import (
	"context"
	"database/sql"
	"fmt"
)

// Query runs a read-only SQL query on the database file and returns its
// rows. Values are nil, string, int64, float64, bool or time.Time for the
// column types the adapter creates. It is meant for tests and diagnostics;
// q is run as given.
func (w *Warehouse) Query(ctx context.Context, q string, args ...any) ([][]any, error) {
	var out [][]any
	err := w.do(ctx, "query", func(c *sql.Conn) error {
		rows, err := c.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			for i, v := range vals {
				if n, ok := v.(int32); ok {
					vals[i] = int64(n)
				}
			}
			out = append(out, vals)
		}
		return rows.Err()
	})
	return out, err
}
