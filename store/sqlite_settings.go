package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

func (s *sqliteStore) WarehouseSchema(ctx context.Context, warehouseID string) (map[string][]SchemaColumn, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT table_name, column_name, column_type FROM warehouse_schemas
		WHERE warehouse_id = ? ORDER BY table_name, column_name`, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("reading the schema of warehouse %q: %w", warehouseID, err)
	}
	defer rows.Close()
	out := map[string][]SchemaColumn{}
	for rows.Next() {
		var table string
		var col SchemaColumn
		if err := rows.Scan(&table, &col.Name, &col.Type); err != nil {
			return nil, fmt.Errorf("reading the schema of warehouse %q: %w", warehouseID, err)
		}
		out[table] = append(out[table], col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the schema of warehouse %q: %w", warehouseID, err)
	}
	return out, nil
}

func (s *sqliteStore) SaveWarehouseSchema(ctx context.Context, warehouseID string, tables map[string][]SchemaColumn, replace bool) error {
	err := sqliteTx(ctx, s.w, func(tx *sql.Tx) error {
		if replace {
			if _, err := tx.ExecContext(ctx, "DELETE FROM warehouse_schemas WHERE warehouse_id = ?", warehouseID); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO warehouse_schemas (warehouse_id, table_name, column_name, column_type)
			VALUES (?, ?, ?, ?) ON CONFLICT (warehouse_id, table_name, column_name) DO UPDATE SET column_type = excluded.column_type`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for table, cols := range tables {
			for _, c := range cols {
				if _, err := stmt.ExecContext(ctx, warehouseID, table, c.Name, c.Type); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving the schema of warehouse %q: %w", warehouseID, sqliteClassify(err))
	}
	return nil
}

func (s *sqliteStore) SetSelection(ctx context.Context, warehouseID string, sel Selection) (Selection, error) {
	if sel.ChangedAt.IsZero() {
		sel.ChangedAt = s.opts.clock()
	}
	prev := Selection{Table: sel.Table, Column: sel.Column, Enabled: true}
	err := sqliteTx(ctx, s.w, func(tx *sql.Tx) error {
		var changed int64
		err := tx.QueryRowContext(ctx, `SELECT enabled, changed_at FROM warehouse_selections
			WHERE warehouse_id = ? AND table_name = ? AND column_name = ?`, warehouseID, sel.Table, sel.Column).Scan(&prev.Enabled, &changed)
		switch {
		case err == nil:
			prev.ChangedAt = fromMicros(changed)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO warehouse_selections (warehouse_id, table_name, column_name, enabled, changed_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (warehouse_id, table_name, column_name) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at`,
			warehouseID, sel.Table, sel.Column, sel.Enabled, micros(sel.ChangedAt))
		return err
	})
	if err != nil {
		return Selection{}, fmt.Errorf("setting a selection of warehouse %q: %w", warehouseID, sqliteClassify(err))
	}
	return prev, nil
}

func (s *sqliteStore) Selections(ctx context.Context, warehouseID string) ([]Selection, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT table_name, column_name, enabled, changed_at FROM warehouse_selections
		WHERE warehouse_id = ? ORDER BY table_name, column_name`, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("reading the selections of warehouse %q: %w", warehouseID, err)
	}
	defer rows.Close()
	var out []Selection
	for rows.Next() {
		var sel Selection
		var changed int64
		if err := rows.Scan(&sel.Table, &sel.Column, &sel.Enabled, &changed); err != nil {
			return nil, fmt.Errorf("reading the selections of warehouse %q: %w", warehouseID, err)
		}
		sel.ChangedAt = fromMicros(changed)
		out = append(out, sel)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the selections of warehouse %q: %w", warehouseID, err)
	}
	return out, nil
}
