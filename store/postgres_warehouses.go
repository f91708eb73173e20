package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

func (s *pgStore) CreateWarehouse(ctx context.Context, w Warehouse) error {
	config, err := marshalConfig(w.Config)
	if err != nil {
		return fmt.Errorf("creating warehouse: %w", err)
	}
	now := s.opts.clock()
	if w.CreatedAt.IsZero() {
		w.CreatedAt = now
	}
	if w.UpdatedAt.IsZero() {
		w.UpdatedAt = w.CreatedAt
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO warehouses (id, space_id, name, type, config, state, schedule, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		w.ID, w.SpaceID, w.Name, w.Type, config, w.State, w.Schedule, w.CreatedAt, w.UpdatedAt)
	if err != nil {
		return fmt.Errorf("creating warehouse %q: %w", w.ID, pgClassify(err))
	}
	return nil
}

const pgWarehouseColumns = "id, space_id, name, type, config, state, schedule, created_at, updated_at"

func (s *pgStore) GetWarehouse(ctx context.Context, id string) (Warehouse, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgWarehouseColumns+" FROM warehouses WHERE id = $1", id)
	w, err := pgx.CollectExactlyOneRow(rows, scanPgWarehouse)
	if err != nil {
		return Warehouse{}, fmt.Errorf("getting warehouse %q: %w", id, pgClassify(err))
	}
	return w, nil
}

func (s *pgStore) ListWarehouses(ctx context.Context, spaceID string) ([]Warehouse, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgWarehouseColumns+` FROM warehouses
		WHERE $1 = '' OR space_id = $1 ORDER BY space_id, name, id`, spaceID)
	ws, err := pgx.CollectRows(rows, scanPgWarehouse)
	if err != nil {
		return nil, fmt.Errorf("listing warehouses: %w", err)
	}
	return ws, nil
}

func scanPgWarehouse(row pgx.CollectableRow) (Warehouse, error) {
	var w Warehouse
	var config []byte
	if err := row.Scan(&w.ID, &w.SpaceID, &w.Name, &w.Type, &config, &w.State, &w.Schedule, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return Warehouse{}, err
	}
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	if err := json.Unmarshal(config, &w.Config); err != nil {
		return Warehouse{}, fmt.Errorf("decoding config of warehouse %q: %w", w.ID, err)
	}
	return w, nil
}

func (s *pgStore) UpdateWarehouse(ctx context.Context, w Warehouse) error {
	config, err := marshalConfig(w.Config)
	if err != nil {
		return fmt.Errorf("updating warehouse: %w", err)
	}
	if w.UpdatedAt.IsZero() {
		w.UpdatedAt = s.opts.clock()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE warehouses SET name = $2, config = $3, state = $4, schedule = $5, updated_at = $6
		WHERE id = $1`, w.ID, w.Name, config, w.State, w.Schedule, w.UpdatedAt)
	if err != nil {
		return fmt.Errorf("updating warehouse %q: %w", w.ID, pgClassify(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("updating warehouse %q: %w", w.ID, ErrNotFound)
	}
	return nil
}

// DeleteWarehouse deletes the credentials explicitly as well as through the
// foreign key's cascade, so that they go even if the cascade is ever lost.
func (s *pgStore) DeleteWarehouse(ctx context.Context, id string) error {
	var found bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM warehouse_credentials WHERE warehouse_id = $1", id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM warehouses WHERE id = $1", id)
		found = tag.RowsAffected() > 0
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

func (s *pgStore) PutCredentials(ctx context.Context, warehouseID string, secret []byte) error {
	sealed, err := s.sealer.seal(warehouseID, secret)
	if err != nil {
		return fmt.Errorf("storing credentials of warehouse %q: %w", warehouseID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO warehouse_credentials (warehouse_id, ciphertext, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (warehouse_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = EXCLUDED.updated_at`,
		warehouseID, sealed, s.opts.clock())
	if err != nil {
		return fmt.Errorf("storing credentials of warehouse %q: %w", warehouseID, pgClassify(err))
	}
	return nil
}

func (s *pgStore) Credentials(ctx context.Context, warehouseID string) ([]byte, error) {
	if s.sealer.aead == nil {
		return nil, fmt.Errorf("reading credentials of warehouse %q: %w", warehouseID, ErrNoMasterKey)
	}
	var sealed []byte
	err := s.pool.QueryRow(ctx, "SELECT ciphertext FROM warehouse_credentials WHERE warehouse_id = $1", warehouseID).Scan(&sealed)
	if err != nil {
		return nil, fmt.Errorf("reading credentials of warehouse %q: %w", warehouseID, pgClassify(err))
	}
	secret, err := s.sealer.open(warehouseID, sealed)
	if err != nil {
		return nil, fmt.Errorf("reading credentials of warehouse %q: %w", warehouseID, err)
	}
	return secret, nil
}

func (s *pgStore) RecordSyncRun(ctx context.Context, r SyncRun) error {
	tables, errs, err := marshalSyncRun(r)
	if err != nil {
		return fmt.Errorf("recording sync run: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO sync_runs (id, warehouse_id, kind, status, started_at, duration_us, rows, tables, errors)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET warehouse_id = EXCLUDED.warehouse_id, kind = EXCLUDED.kind,
			status = EXCLUDED.status, started_at = EXCLUDED.started_at, duration_us = EXCLUDED.duration_us,
			rows = EXCLUDED.rows, tables = EXCLUDED.tables, errors = EXCLUDED.errors`,
		r.ID, r.WarehouseID, r.Kind, r.Status, r.StartedAt, r.Duration.Microseconds(), r.Rows, tables, errs)
	if err != nil {
		return fmt.Errorf("recording sync run %q: %w", r.ID, err)
	}
	return nil
}

const pgSyncRunColumns = "id, warehouse_id, kind, status, started_at, duration_us, rows, tables, errors"

func (s *pgStore) GetSyncRun(ctx context.Context, id string) (SyncRun, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSyncRunColumns+" FROM sync_runs WHERE id = $1", id)
	r, err := pgx.CollectExactlyOneRow(rows, scanPgSyncRun)
	if err != nil {
		return SyncRun{}, fmt.Errorf("getting sync run %q: %w", id, pgClassify(err))
	}
	return r, nil
}

func (s *pgStore) ListSyncRuns(ctx context.Context, warehouseID string, limit int) ([]SyncRun, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSyncRunColumns+` FROM sync_runs WHERE warehouse_id = $1
		ORDER BY started_at DESC, id DESC LIMIT $2`, warehouseID, limitOrAll(limit))
	runs, err := pgx.CollectRows(rows, scanPgSyncRun)
	if err != nil {
		return nil, fmt.Errorf("listing sync runs: %w", err)
	}
	return runs, nil
}

func scanPgSyncRun(row pgx.CollectableRow) (SyncRun, error) {
	var r SyncRun
	var durationUS int64
	var tables, errs []byte
	if err := row.Scan(&r.ID, &r.WarehouseID, &r.Kind, &r.Status, &r.StartedAt, &durationUS, &r.Rows, &tables, &errs); err != nil {
		return SyncRun{}, err
	}
	r.StartedAt = r.StartedAt.UTC()
	r.Duration = time.Duration(durationUS) * time.Microsecond
	return r, unmarshalSyncRun(&r, tables, errs)
}
