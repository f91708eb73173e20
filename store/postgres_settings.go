package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

func (s *pgStore) WarehouseSchema(ctx context.Context, warehouseID string) (map[string][]SchemaColumn, error) {
	rows, _ := s.pool.Query(ctx, `SELECT table_name, column_name, column_type FROM warehouse_schemas
		WHERE warehouse_id = $1 ORDER BY table_name, column_name`, warehouseID)
	out := map[string][]SchemaColumn{}
	var table string
	var col SchemaColumn
	_, err := pgx.ForEachRow(rows, []any{&table, &col.Name, &col.Type}, func() error {
		out[table] = append(out[table], col)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the schema of warehouse %q: %w", warehouseID, err)
	}
	return out, nil
}

func (s *pgStore) SaveWarehouseSchema(ctx context.Context, warehouseID string, tables map[string][]SchemaColumn, replace bool) error {
	var names, cols, types []string
	for table, cs := range tables {
		for _, c := range cs {
			names, cols, types = append(names, table), append(cols, c.Name), append(types, c.Type)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if replace {
			if _, err := tx.Exec(ctx, "DELETE FROM warehouse_schemas WHERE warehouse_id = $1", warehouseID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO warehouse_schemas (warehouse_id, table_name, column_name, column_type)
			SELECT $1, t, c, y FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, c, y)
			ON CONFLICT (warehouse_id, table_name, column_name) DO UPDATE SET column_type = excluded.column_type`,
			warehouseID, names, cols, types)
		return err
	})
	if err != nil {
		return fmt.Errorf("saving the schema of warehouse %q: %w", warehouseID, pgClassify(err))
	}
	return nil
}

func (s *pgStore) SetSelection(ctx context.Context, warehouseID string, sel Selection) (Selection, error) {
	if sel.ChangedAt.IsZero() {
		sel.ChangedAt = s.opts.clock()
	}
	prev := Selection{Table: sel.Table, Column: sel.Column, Enabled: true}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT enabled, changed_at FROM warehouse_selections
			WHERE warehouse_id = $1 AND table_name = $2 AND column_name = $3 FOR UPDATE`,
			warehouseID, sel.Table, sel.Column).Scan(&prev.Enabled, &prev.ChangedAt)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		prev.ChangedAt = prev.ChangedAt.UTC()
		_, err = tx.Exec(ctx, `INSERT INTO warehouse_selections (warehouse_id, table_name, column_name, enabled, changed_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (warehouse_id, table_name, column_name) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at`,
			warehouseID, sel.Table, sel.Column, sel.Enabled, sel.ChangedAt)
		return err
	})
	if err != nil {
		return Selection{}, fmt.Errorf("setting a selection of warehouse %q: %w", warehouseID, pgClassify(err))
	}
	return prev, nil
}

func (s *pgStore) Selections(ctx context.Context, warehouseID string) ([]Selection, error) {
	rows, _ := s.pool.Query(ctx, `SELECT table_name, column_name, enabled, changed_at FROM warehouse_selections
		WHERE warehouse_id = $1 ORDER BY table_name, column_name`, warehouseID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Selection, error) {
		var sel Selection
		err := row.Scan(&sel.Table, &sel.Column, &sel.Enabled, &sel.ChangedAt)
		sel.ChangedAt = sel.ChangedAt.UTC()
		return sel, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the selections of warehouse %q: %w", warehouseID, err)
	}
	return out, nil
}
