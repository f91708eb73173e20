package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"

	"github.com/profilesync/profilesync/adapters"
)

var _ adapters.TablesEnsurer = (*Warehouse)(nil)

const (
	// ensureTablesBatch is how many tables one transaction of EnsureTables
	// creates or extends.
	ensureTablesBatch = 500
	// ddlPerExec is how many statements EnsureTables sends at once.
	ddlPerExec = 50
)

// EnsureTables does what EnsureTable does for each table, ensureTablesBatch
// tables per transaction: their columns read in one query, the DDL lock
// taken once, the statements sent ddlPerExec at a time. The current-state
// tables and the change logs, which have keys and indexes of their own, go
// through EnsureTable.
func (w *Warehouse) EnsureTables(ctx context.Context, tables []adapters.Table) (err error) {
	defer w.redactErr(&err)
	var plain []adapters.Table
	for _, t := range tables {
		if _, keyed := keyedTable(t.Name); keyed || indexColumn(t.Name) != "" {
			if err := w.EnsureTable(ctx, t); err != nil {
				return err
			}
			continue
		}
		plain = append(plain, t)
	}
	for batch := range slices.Chunk(plain, ensureTablesBatch) {
		if err := w.inTx(ctx, func(tx *sql.Tx) error { return w.ensureTables(ctx, tx, batch) }); err != nil {
			return err
		}
	}
	return nil
}

// ensureTables creates or extends tables, whose key is id, in the caller's
// transaction. Like ensureTable it takes the DDL lock only when there is DDL
// to run, and plans again under it.
func (w *Warehouse) ensureTables(ctx context.Context, tx *sql.Tx, tables []adapters.Table) error {
	plan := func() ([]ddl, error) {
		names := make([]string, len(tables))
		for i, t := range tables {
			if err := checkIdent(t.Name); err != nil {
				return nil, fmt.Errorf("table: %w", err)
			}
			names[i] = t.Name
		}
		existing, err := w.tablesColumns(ctx, tx, names)
		if err != nil {
			return nil, err
		}
		var out []ddl
		for _, t := range tables {
			cols := t.Columns
			if !slices.ContainsFunc(cols, func(c adapters.Column) bool { return c.Name == "id" }) {
				cols = append([]adapters.Column{{Name: "id", Type: adapters.String}}, cols...)
			}
			d, _, err := w.planTable(t.Name, cols, []string{"id"}, existing[t.Name])
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		}
		return out, nil
	}
	todo, err := plan()
	if err != nil || len(todo) == 0 {
		return err
	}
	if err := w.lockDDL(ctx, tx); err != nil {
		return err
	}
	if todo, err = plan(); err != nil {
		return err
	}
	for batch := range slices.Chunk(todo, ddlPerExec) {
		stmts := make([]string, len(batch))
		for i, d := range batch {
			stmts[i] = d.sql
		}
		if _, err := tx.ExecContext(ctx, strings.Join(stmts, ";\n")); err != nil {
			return fmt.Errorf("%s (or one of the %d changes sent with it): %w", batch[0].what, len(batch), err)
		}
	}
	w.log.InfoContext(ctx, "schema changed", "changes", len(todo), "tables", len(tables))
	return nil
}

// tablesColumns returns the columns of the given tables, by table and name,
// with their types as PostgreSQL formats them; tables that do not exist are
// missing.
func (w *Warehouse) tablesColumns(ctx context.Context, q querier, tables []string) (map[string]map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')
			AND a.attnum > 0 AND NOT a.attisdropped`, w.schema, pq.Array(tables))
	if err != nil {
		return nil, fmt.Errorf("reading columns of %d tables: %w", len(tables), err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			return nil, fmt.Errorf("reading columns of %d tables: %w", len(tables), err)
		}
		if out[table] == nil {
			out[table] = map[string]string{}
		}
		out[table][name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of %d tables: %w", len(tables), err)
	}
	return out, nil
}
