package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/profilesync/profilesync/adapters"
)

var _ adapters.Widener = (*Warehouse)(nil)

// WidenColumn changes an integer column to double precision (ALTER COLUMN
// ... TYPE, which rewrites the table under an exclusive lock), under the
// schema's DDL lock. A column that is double precision already is left
// alone.
func (w *Warehouse) WidenColumn(ctx context.Context, table, column string, to adapters.Type) (err error) {
	defer w.redactErr(&err)
	return w.inTx(ctx, func(tx *sql.Tx) error {
		if err := w.lockDDL(ctx, tx); err != nil {
			return err
		}
		cols, err := w.columns(ctx, tx, table)
		if err != nil {
			return err
		}
		typ, ok := cols[column]
		switch {
		case len(cols) == 0:
			return fmt.Errorf("widening %s.%s: no such table", table, column)
		case !ok:
			return fmt.Errorf("widening %s.%s: no such column", table, column)
		case columnType(typ) == to:
			return nil
		case !adapters.CanWiden(columnType(typ), to):
			return fmt.Errorf("widening %s.%s: cannot change %s to %s", table, column, typ, typeName(to))
		}
		q := "ALTER TABLE " + w.QualifiedName(table) + " ALTER COLUMN " + quoteIdent(column) + " TYPE " + typeName(to)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("widening %s.%s to %s: %w", table, column, typeName(to), err)
		}
		w.log.InfoContext(ctx, "widened column", "table", table, "column", column, "type", typeName(to))
		return nil
	})
}
