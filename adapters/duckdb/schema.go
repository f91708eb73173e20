package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

// EnsureSchema creates the schema and the watermarks table if they do not
// exist.
func (w *Warehouse) EnsureSchema(ctx context.Context) error {
	return w.do(ctx, "ensure schema "+w.schema, func(c *sql.Conn) error {
		return inTx(ctx, c, func() error { return w.ensureSchema(ctx, c) })
	})
}

func (w *Warehouse) ensureSchema(ctx context.Context, c *sql.Conn) error {
	if err := checkIdent("schema", w.schema); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quote(w.schema)); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	_, err := c.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+w.table(WatermarksTable)+` (
		stream VARCHAR PRIMARY KEY,
		watermark BIGINT NOT NULL,
		updated_at TIMESTAMPTZ NOT NULL)`)
	if err != nil {
		return fmt.Errorf("create %s: %w", WatermarksTable, err)
	}
	return nil
}

// Tables returns the tables and views of the schema with their columns in
// table order. A column of a type the adapter does not create has its DuckDB
// type name in lower case as its Type.
func (w *Warehouse) Tables(ctx context.Context) (map[string][]adapters.Column, error) {
	var out map[string][]adapters.Column
	err := w.do(ctx, "list tables of "+w.schema, func(c *sql.Conn) error {
		var err error
		out, err = w.tables(ctx, c, "")
		return err
	})
	return out, err
}

// tables lists the columns of the schema's tables, or of one table when name
// is not empty. Table names compare case-insensitively, as in DuckDB.
func (w *Warehouse) tables(ctx context.Context, c *sql.Conn, name string) (map[string][]adapters.Column, error) {
	q := `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = ?`
	args := []any{w.schema}
	if name != "" {
		q += " AND lower(table_name) = lower(?)"
		args = append(args, name)
	}
	rows, err := c.QueryContext(ctx, q+" ORDER BY table_name, ordinal_position", args...)
	if err != nil {
		return nil, fmt.Errorf("read information_schema.columns: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string][]adapters.Column{}
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			return nil, fmt.Errorf("read information_schema.columns: %w", err)
		}
		out[table] = append(out[table], adapters.Column{Name: column, Type: columnType(typ)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read information_schema.columns: %w", err)
	}
	return out, nil
}

// EnsureTable creates t if it does not exist and adds the columns it lacks.
// It never drops or retypes a column; a column whose name differs only in
// case from t's is taken as present. A landed table gets the primary key
// "id" (added first if t lacks it); a current-state table (see
// adapters.Materialized) gets its own columns and key, plus t's columns.
func (w *Warehouse) EnsureTable(ctx context.Context, t adapters.Table) error {
	t, key := withKey(t)
	return w.do(ctx, "ensure table "+t.Name, func(c *sql.Conn) error {
		return inTx(ctx, c, func() error { return w.ensureTable(ctx, c, t, key) })
	})
}

// withKey returns t with the columns of its primary key and that key.
func withKey(t adapters.Table) (adapters.Table, []string) {
	var cols []adapters.Column
	key := []string{"id"}
	if kt, ok := keyedTable(t.Name); ok {
		cols, key = kt.Columns, kt.Key
	} else if !slices.ContainsFunc(t.Columns, func(c adapters.Column) bool { return strings.EqualFold(c.Name, "id") }) {
		cols = []adapters.Column{{Name: "id", Type: adapters.String}}
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[strings.ToLower(c.Name)] = true
	}
	for _, c := range t.Columns {
		if !have[strings.ToLower(c.Name)] {
			cols = append(cols, c)
		}
	}
	return adapters.Table{Name: t.Name, Columns: cols}, key
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

// ensureTable creates t with the given primary key if it does not exist and
// adds the columns it lacks. It runs in the caller's transaction.
func (w *Warehouse) ensureTable(ctx context.Context, c *sql.Conn, t adapters.Table, key []string) error {
	if err := checkTable(t); err != nil {
		return err
	}
	existing, err := w.tables(ctx, c, t.Name)
	if err != nil {
		return err
	}
	var have []adapters.Column
	for _, cols := range existing {
		have = cols
	}
	return w.ensureTableWith(ctx, c, t, key, have)
}

// ensureTableWith is ensureTable for a table whose columns are have (none:
// it does not exist), checked already.
func (w *Warehouse) ensureTableWith(ctx context.Context, c *sql.Conn, t adapters.Table, key []string, have []adapters.Column) error {
	if have == nil {
		return w.createTable(ctx, c, t, key)
	}
	present := map[string]bool{}
	for _, col := range have {
		present[strings.ToLower(col.Name)] = true
	}
	var missing []adapters.Column
	for _, col := range t.Columns {
		if !present[strings.ToLower(col.Name)] {
			missing = append(missing, col)
		}
	}
	if n := len(have) + len(missing); n > MaxColumns {
		return fmt.Errorf("table %s would have %d columns, more than DuckDB's limit of %d", t.Name, n, MaxColumns)
	}
	for _, col := range missing {
		q := "ALTER TABLE " + w.table(t.Name) + " ADD COLUMN IF NOT EXISTS " + quote(col.Name) + " " + typeName(col.Type)
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("add column %s: %w", col.Name, err)
		}
	}
	return nil
}

// createTable creates t with the given primary key.
func (w *Warehouse) createTable(ctx context.Context, c *sql.Conn, t adapters.Table, key []string) error {
	if len(t.Columns) > MaxColumns {
		return fmt.Errorf("table %s has %d columns, more than DuckDB's limit of %d", t.Name, len(t.Columns), MaxColumns)
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + w.table(t.Name) + " (")
	for i, col := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(col.Name) + " " + typeName(col.Type))
	}
	if len(key) > 0 {
		b.WriteString(", PRIMARY KEY (" + quoteList(key) + ")")
	}
	b.WriteString(")")
	if _, err := c.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	return nil
}

// checkTable checks that a table description can be created: names within
// the limits, unique columns (case-insensitively) of known types.
func checkTable(t adapters.Table) error {
	if err := checkIdent("table", t.Name); err != nil {
		return err
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("table %s has no columns", t.Name)
	}
	seen := map[string]bool{}
	for _, col := range t.Columns {
		if err := checkIdent("column", col.Name); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		if seen[strings.ToLower(col.Name)] {
			return fmt.Errorf("table %s: column %s appears twice (DuckDB names are case-insensitive)", t.Name, col.Name)
		}
		seen[strings.ToLower(col.Name)] = true
		if typeName(col.Type) == "" {
			return fmt.Errorf("table %s: column %s has unknown type %q", t.Name, col.Name, col.Type)
		}
	}
	return nil
}

// checkIdent checks that a name is not empty and within MaxIdentLength.
func checkIdent(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty %s name", kind)
	case len(name) > MaxIdentLength:
		return fmt.Errorf("%s name of %d bytes is longer than the limit of %d", kind, len(name), MaxIdentLength)
	case strings.ContainsRune(name, 0):
		return errors.New(kind + " name contains a NUL byte")
	}
	return nil
}

// quoteList quotes names and joins them with commas.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
