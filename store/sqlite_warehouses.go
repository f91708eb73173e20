package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

func (s *sqliteStore) CreateWarehouse(ctx context.Context, w Warehouse) error {
	config, err := marshalConfig(w.Config)
	if err != nil {
		return fmt.Errorf("creating warehouse: %w", err)
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = s.opts.clock()
	}
	if w.UpdatedAt.IsZero() {
		w.UpdatedAt = w.CreatedAt
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO warehouses (id, space_id, name, type, config, state, schedule, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.SpaceID, w.Name, w.Type, string(config), w.State, w.Schedule, micros(w.CreatedAt), micros(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("creating warehouse %q: %w", w.ID, sqliteClassify(err))
	}
	return nil
}

const sqliteWarehouseColumns = "id, space_id, name, type, config, state, schedule, created_at, updated_at"

func (s *sqliteStore) GetWarehouse(ctx context.Context, id string) (Warehouse, error) {
	w, err := scanSqliteWarehouse(s.r.QueryRowContext(ctx, "SELECT "+sqliteWarehouseColumns+" FROM warehouses WHERE id = ?", id))
	if err != nil {
		return Warehouse{}, fmt.Errorf("getting warehouse %q: %w", id, sqliteClassify(err))
	}
	return w, nil
}

func (s *sqliteStore) ListWarehouses(ctx context.Context, spaceID string) ([]Warehouse, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqliteWarehouseColumns+` FROM warehouses
		WHERE ?1 = '' OR space_id = ?1 ORDER BY space_id, name, id`, spaceID)
	ws, err := collect(rows, err, scanSqliteWarehouse)
	if err != nil {
		return nil, fmt.Errorf("listing warehouses: %w", err)
	}
	return ws, nil
}

func scanSqliteWarehouse(row scanner) (Warehouse, error) {
	var w Warehouse
	var config string
	var created, updated int64
	if err := row.Scan(&w.ID, &w.SpaceID, &w.Name, &w.Type, &config, &w.State, &w.Schedule, &created, &updated); err != nil {
		return Warehouse{}, err
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(config), &w.Config); err != nil {
		return Warehouse{}, fmt.Errorf("decoding config of warehouse %q: %w", w.ID, err)
	}
	return w, nil
}

func (s *sqliteStore) UpdateWarehouse(ctx context.Context, w Warehouse) error {
	config, err := marshalConfig(w.Config)
	if err != nil {
		return fmt.Errorf("updating warehouse: %w", err)
	}
	if w.UpdatedAt.IsZero() {
		w.UpdatedAt = s.opts.clock()
	}
	res, err := s.w.ExecContext(ctx, `UPDATE warehouses SET name = ?, config = ?, state = ?, schedule = ?, updated_at = ?
		WHERE id = ?`, w.Name, string(config), w.State, w.Schedule, micros(w.UpdatedAt), w.ID)
	if err != nil {
		return fmt.Errorf("updating warehouse %q: %w", w.ID, sqliteClassify(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("updating warehouse %q: %w", w.ID, ErrNotFound)
	}
	return nil
}

// DeleteWarehouse deletes the credentials explicitly as well as through the
// foreign key's cascade, like the PostgreSQL store.
func (s *sqliteStore) DeleteWarehouse(ctx context.Context, id string) error {
	var found bool
	err := sqliteTx(ctx, s.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM warehouse_credentials WHERE warehouse_id = ?", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM warehouses WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		found = n > 0
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting warehouse %q: %w", id, err)
	}
	if !found {
		return fmt.Errorf("deleting warehouse %q: %w", id, ErrNotFound)
	}
	return nil
}

func (s *sqliteStore) PutCredentials(ctx context.Context, warehouseID string, secret []byte) error {
	sealed, err := s.sealer.seal(warehouseID, secret)
	if err != nil {
		return fmt.Errorf("storing credentials of warehouse %q: %w", warehouseID, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO warehouse_credentials (warehouse_id, ciphertext, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (warehouse_id) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		warehouseID, sealed, micros(s.opts.clock()))
	if err != nil {
		return fmt.Errorf("storing credentials of warehouse %q: %w", warehouseID, sqliteClassify(err))
	}
	return nil
}

func (s *sqliteStore) Credentials(ctx context.Context, warehouseID string) ([]byte, error) {
	if s.sealer.aead == nil {
		return nil, fmt.Errorf("reading credentials of warehouse %q: %w", warehouseID, ErrNoMasterKey)
	}
	var sealed []byte
	err := s.r.QueryRowContext(ctx, "SELECT ciphertext FROM warehouse_credentials WHERE warehouse_id = ?", warehouseID).Scan(&sealed)
	if err != nil {
		return nil, fmt.Errorf("reading credentials of warehouse %q: %w", warehouseID, sqliteClassify(err))
	}
	secret, err := s.sealer.open(warehouseID, sealed)
	if err != nil {
		return nil, fmt.Errorf("reading credentials of warehouse %q: %w", warehouseID, err)
	}
	return secret, nil
}

func (s *sqliteStore) RecordSyncRun(ctx context.Context, r SyncRun) error {
	tables, errs, err := marshalSyncRun(r)
	if err != nil {
		return fmt.Errorf("recording sync run: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO sync_runs (id, warehouse_id, kind, status, started_at, duration_us, rows, tables, errors)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET warehouse_id = excluded.warehouse_id, kind = excluded.kind,
			status = excluded.status, started_at = excluded.started_at, duration_us = excluded.duration_us,
			rows = excluded.rows, tables = excluded.tables, errors = excluded.errors`,
		r.ID, r.WarehouseID, r.Kind, r.Status, micros(r.StartedAt), r.Duration.Microseconds(), r.Rows, string(tables), string(errs))
	if err != nil {
		return fmt.Errorf("recording sync run %q: %w", r.ID, err)
	}
	return nil
}

const sqliteSyncRunColumns = "id, warehouse_id, kind, status, started_at, duration_us, rows, tables, errors"

func (s *sqliteStore) GetSyncRun(ctx context.Context, id string) (SyncRun, error) {
	r, err := scanSqliteSyncRun(s.r.QueryRowContext(ctx, "SELECT "+sqliteSyncRunColumns+" FROM sync_runs WHERE id = ?", id))
	if err != nil {
		return SyncRun{}, fmt.Errorf("getting sync run %q: %w", id, sqliteClassify(err))
	}
	return r, nil
}

func (s *sqliteStore) ListSyncRuns(ctx context.Context, warehouseID string, limit int) ([]SyncRun, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqliteSyncRunColumns+` FROM sync_runs WHERE warehouse_id = ?
		ORDER BY started_at DESC, id DESC LIMIT ?`, warehouseID, limitOrAll(limit))
	runs, err := collect(rows, err, scanSqliteSyncRun)
	if err != nil {
		return nil, fmt.Errorf("listing sync runs: %w", err)
	}
	return runs, nil
}

func scanSqliteSyncRun(row scanner) (SyncRun, error) {
	var r SyncRun
	var started, durationUS int64
	var tables, errs string
	if err := row.Scan(&r.ID, &r.WarehouseID, &r.Kind, &r.Status, &started, &durationUS, &r.Rows, &tables, &errs); err != nil {
		return SyncRun{}, err
	}
	r.StartedAt = fromMicros(started)
	r.Duration = time.Duration(durationUS) * time.Microsecond
	return r, unmarshalSyncRun(&r, []byte(tables), []byte(errs))
}
