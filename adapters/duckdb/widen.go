package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

var _ adapters.Widener = (*Warehouse)(nil)

// WidenColumn changes an integer column to DOUBLE (ALTER COLUMN ... SET DATA
// TYPE), in a transaction. A column that is DOUBLE already is left alone.
// Names compare case-insensitively, as in DuckDB.
func (w *Warehouse) WidenColumn(ctx context.Context, table, column string, to adapters.Type) error {
	return w.do(ctx, "widen column "+table+"."+column, func(c *sql.Conn) error {
		return inTx(ctx, c, func() error {
			tables, err := w.tables(ctx, c, table)
			if err != nil {
				return err
			}
			if len(tables) == 0 {
				return fmt.Errorf("no such table")
			}
			for name, cols := range tables {
				for _, col := range cols {
					if !strings.EqualFold(col.Name, column) {
						continue
					}
					switch {
					case col.Type == to:
						return nil
					case !adapters.CanWiden(col.Type, to):
						return fmt.Errorf("cannot change %s to %s", col.Type, to)
					}
					q := "ALTER TABLE " + w.table(name) + " ALTER COLUMN " + quote(col.Name) + " SET DATA TYPE " + typeName(to)
					if _, err := c.ExecContext(ctx, q); err != nil {
						return fmt.Errorf("alter column: %w", err)
					}
					return nil
				}
			}
			return fmt.Errorf("no such column")
		})
	})
}
