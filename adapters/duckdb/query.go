package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// Dialect is the warehouse's SQL dialect.
func (w *Warehouse) Dialect() adapters.Dialect { return Dialect{} }

// QualifiedName returns the quoted, schema-qualified name of a table of the
// warehouse schema.
func (w *Warehouse) QualifiedName(table string) string { return w.table(table) }

// Query runs a SQL query on the database file and returns its rows. Values
// are nil, string, int64, float64, bool or time.Time (in UTC) for the column
// types the adapter creates. It is meant for tests and diagnostics: q runs as
// given.
func (w *Warehouse) Query(ctx context.Context, q string) ([][]any, error) {
	var out [][]any
	err := w.do(ctx, "query", func(c *sql.Conn) error {
		rows, err := c.QueryContext(ctx, q)
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
				vals[i] = normalize(v)
			}
			out = append(out, vals)
		}
		return rows.Err()
	})
	return out, err
}

// normalize maps the integer types of DuckDB's smaller columns to int64 and
// times to UTC.
func normalize(v any) any {
	switch v := v.(type) {
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case float32:
		return float64(v)
	case time.Time:
		return v.UTC()
	}
	return v
}
