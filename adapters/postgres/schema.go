package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

// addColumnsBatch is how many columns one ALTER TABLE adds.
const addColumnsBatch = 100

// EnsureSchema creates the schema and the watermarks table if missing.
func (w *Warehouse) EnsureSchema(ctx context.Context) (err error) {
	defer w.redactErr(&err)
	return w.inTx(ctx, func(tx *sql.Tx) error {
		if err := w.lockDDL(ctx, tx); err != nil {
			return err
		}
		return w.ensureSchema(ctx, tx)
	})
}

func (w *Warehouse) ensureSchema(ctx context.Context, tx *sql.Tx) error {
	// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database
	// even when the schema exists, so look first.
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, w.schema).Scan(&exists); err != nil {
		return fmt.Errorf("looking up schema %s: %w", w.schema, err)
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(w.schema)); err != nil {
			return fmt.Errorf("creating schema %s: %w", w.schema, err)
		}
	}
	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+w.QualifiedName(watermarksTable)+` (
		stream text PRIMARY KEY,
		watermark bigint NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("creating %s: %w", watermarksTable, err)
	}
	return nil
}

// Tables returns the tables of the schema, but the watermarks table, with
// their columns in order.
func (w *Warehouse) Tables(ctx context.Context) (_ map[string][]adapters.Column, err error) {
	defer w.redactErr(&err)
	rows, err := w.db.QueryContext(ctx, `SELECT table_name, column_name, data_type
		FROM information_schema.columns
		WHERE table_schema = $1 AND table_name <> $2
		ORDER BY table_name, ordinal_position`, w.schema, watermarksTable)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	out := map[string][]adapters.Column{}
	for rows.Next() {
		var table, column, dataType string
		if err := rows.Scan(&table, &column, &dataType); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		out[table] = append(out[table], adapters.Column{Name: column, Type: columnType(dataType)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return out, nil
}

// EnsureTable creates t if missing, with the primary key id (the
// current-state tables get their own keys), and adds the columns it lacks,
// in batches. It never drops or retypes a column. The change logs get an
// index on seq.
func (w *Warehouse) EnsureTable(ctx context.Context, t adapters.Table) (err error) {
	defer w.redactErr(&err)
	cols, key := t.Columns, []string{"id"}
	if kt, ok := keyedTable(t.Name); ok {
		cols, key = append(slices.Clone(kt.Columns), t.Columns...), kt.Key
	} else if !slices.ContainsFunc(cols, func(c adapters.Column) bool { return c.Name == "id" }) {
		cols = append([]adapters.Column{{Name: "id", Type: adapters.String}}, cols...)
	}
	return w.inTx(ctx, func(tx *sql.Tx) error {
		return w.ensureTable(ctx, tx, t.Name, cols, key)
	})
}

// keyedTable returns the definition of a current-state table.
func keyedTable(name string) (adapters.KeyedTable, bool) {
	for _, kt := range adapters.Materialized() {
		if kt.Name == name {
			return kt, true
		}
	}
	return adapters.KeyedTable{}, false
}

// ensureTable creates table with cols and primary key, or adds the columns
// it lacks, and creates its indexes. Duplicate columns in cols are ignored.
// It takes the DDL lock, for the rest of the transaction, only when there is
// DDL to run, so that a transaction that finds everything in place (such as
// Materialize's) blocks no one.
func (w *Warehouse) ensureTable(ctx context.Context, tx *sql.Tx, table string, cols []adapters.Column, key []string) error {
	ddl, err := w.tableDDL(ctx, tx, table, cols, key)
	if err != nil || len(ddl) == 0 {
		return err
	}
	if err := w.lockDDL(ctx, tx); err != nil {
		return err
	}
	// Plan again under the lock: another transaction may have got there
	// first.
	if ddl, err = w.tableDDL(ctx, tx, table, cols, key); err != nil {
		return err
	}
	for _, d := range ddl {
		if _, err := tx.ExecContext(ctx, d.sql); err != nil {
			return fmt.Errorf("%s: %w", d.what, err)
		}
		w.log.InfoContext(ctx, "schema changed", "change", d.what)
	}
	return nil
}

// ddl is a schema change and what it does, for errors and logs.
type ddl struct{ sql, what string }

// tableDDL returns the statements that create table or add the columns and
// indexes it lacks; none if it is complete.
func (w *Warehouse) tableDDL(ctx context.Context, q querier, table string, cols []adapters.Column, key []string) ([]ddl, error) {
	if err := checkIdent(table); err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	existing, err := w.columns(ctx, q, table)
	if err != nil {
		return nil, err
	}
	out, seen, err := w.planTable(table, cols, key, existing)
	if err != nil {
		return nil, err
	}
	if col := indexColumn(table); col != "" && (seen[col] || existing[col] != "") {
		index := table + "_" + col + "_idx"
		var exists bool
		if err := q.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", quoteIdent(w.schema)+"."+quoteIdent(index)).Scan(&exists); err != nil {
			return nil, fmt.Errorf("looking up index %s: %w", index, err)
		}
		if !exists {
			out = append(out, ddl{"CREATE INDEX IF NOT EXISTS " + quoteIdent(index) + " ON " + w.QualifiedName(table) + " (" + quoteIdent(col) + ")", fmt.Sprintf("indexing %s on %s", table, col)})
		}
	}
	return out, nil
}

// planTable returns the statements that create table, or add the columns
// it lacks, given its existing columns (none: it does not exist), and the
// names of cols.
func (w *Warehouse) planTable(table string, cols []adapters.Column, key []string, existing map[string]string) ([]ddl, map[string]bool, error) {
	var missing []adapters.Column
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		if err := checkIdent(c.Name); err != nil {
			return nil, nil, fmt.Errorf("table %s: column: %w", table, err)
		}
		if typeName(c.Type) == "" {
			return nil, nil, fmt.Errorf("table %s: column %s: unknown type %q", table, c.Name, c.Type)
		}
		if _, ok := existing[c.Name]; !ok {
			missing = append(missing, c)
		}
	}
	if n := len(existing) + len(missing); n > maxColumns {
		return nil, nil, fmt.Errorf("table %s would have %d columns, more than PostgreSQL's %d", table, n, maxColumns)
	}
	name := w.QualifiedName(table)
	var out []ddl
	if len(existing) == 0 {
		defs := make([]string, 0, len(missing)+1)
		for _, c := range missing {
			defs = append(defs, columnDef(c))
		}
		defs = append(defs, "PRIMARY KEY ("+quoteList(key)+")")
		create := "CREATE TABLE IF NOT EXISTS " + name + " (\n\t" + strings.Join(defs, ",\n\t") + ")"
		if _, ok := keyedTable(table); ok {
			// Materialize updates these rows in place: leave room on each
			// page for HOT updates, which write no index entries.
			create += " WITH (fillfactor = 90)"
		}
		out = append(out, ddl{create, fmt.Sprintf("creating table %s with %d columns", table, len(missing))})
	} else {
		for batch := range slices.Chunk(missing, addColumnsBatch) {
			adds := make([]string, len(batch))
			for i, c := range batch {
				adds[i] = "ADD COLUMN IF NOT EXISTS " + columnDef(c)
			}
			out = append(out, ddl{"ALTER TABLE " + name + "\n\t" + strings.Join(adds, ",\n\t"), fmt.Sprintf("adding %d columns to %s", len(batch), table)})
		}
	}
	return out, seen, nil
}

// indexColumn is the column Materialize reads a table by, besides its key:
// seq on the change logs, segment_id on external_id_mapping.
func indexColumn(table string) string {
	switch table {
	case adapters.TableIDGraphUpdates, adapters.TableExternalIDMappingUpdates, adapters.TableProfileTraitsUpdates:
		return "seq"
	case adapters.TableExternalIDMapping:
		return "segment_id"
	}
	return ""
}

// columns returns the columns of a table by name with their types as
// PostgreSQL formats them; none if the table does not exist.
func (w *Warehouse) columns(ctx context.Context, q querier, table string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT attname, format_type(atttypid, atttypmod)
		FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
		ORDER BY attnum`, w.QualifiedName(table))
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", table, err)
		}
		out[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	return out, nil
}

// orderedColumns returns the column names of a table in table order; none if
// it does not exist.
func (w *Warehouse) orderedColumns(ctx context.Context, q querier, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT attname FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
		ORDER BY attnum`, w.QualifiedName(table))
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", table, err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	return out, nil
}

func columnDef(c adapters.Column) string {
	return quoteIdent(c.Name) + " " + typeName(c.Type)
}

// quoteList quotes names and joins them with commas.
func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quoteIdent(n)
	}
	return strings.Join(quoted, ", ")
}

// lockDDL serializes schema changes to this schema across connections, so
// that concurrent CREATE ... IF NOT EXISTS do not race.
func (w *Warehouse) lockDDL(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('profilesync ddl ' || $1))`, w.schema); err != nil {
		return fmt.Errorf("locking schema %s: %w", w.schema, err)
	}
	return nil
}

// inTx runs f in a transaction and commits it if f succeeds.
func (w *Warehouse) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}
