package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore is the PostgreSQL store. Hot paths use pgx directly: arrays with
// unnest for the inbox, COPY for change logs.
type pgStore struct {
	pool   *pgxpool.Pool
	opts   Options
	sealer *sealer
}

var _ Store = (*pgStore)(nil)

// defaultPoolSize is the pool size unless the DSN sets pool_max_conns.
const defaultPoolSize = 16

func openPostgres(ctx context.Context, dsn string, opts Options, s *sealer) (*pgStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("opening postgres: invalid DSN")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (the number of CPUs, at least 4) is small for a
		// process whose ingest calls may wait on a space's lock while
		// resolvers and syncs hold connections of their own.
		cfg.MaxConns = defaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	st := &pgStore{pool: pool, opts: opts, sealer: s}
	if err := migrate(ctx, opts.Logger, "postgres", pgMigrator{pool}); err != nil {
		pool.Close()
		return nil, err
	}
	return st, nil
}

// Close closes the connection pool.
func (s *pgStore) Close() error {
	s.pool.Close()
	return nil
}

// pgMigrator runs migrations on one pooled connection that holds a session
// advisory lock, so that processes opening the store at once take turns.
type pgMigrator struct{ pool *pgxpool.Pool }

func (m pgMigrator) lock(ctx context.Context) (func(), error) {
	key := advisoryKey("profilesync:migrations")
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		conn.Release()
		return nil, err
	}
	unlock := func() {
		// A failed unlock leaves a lock only this session holds: drop the
		// connection so the server releases it.
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key); err != nil {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}
	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

func (m pgMigrator) applied(ctx context.Context) (map[int]bool, error) {
	rows, err := m.pool.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[v] = true
	}
	return done, err
}

func (m pgMigrator) apply(ctx context.Context, mig migration) (bool, error) {
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, mig.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mig.version, mig.name)
		return err
	})
	return err == nil, err
}

// advisoryKey turns a name into a PostgreSQL advisory lock key.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// pgClassify maps PostgreSQL errors to the store's: a unique violation is a
// conflict, a foreign-key violation a missing parent, no rows not found.
func pgClassify(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w (%s)", ErrConflict, pe.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w (%s)", ErrNotFound, pe.ConstraintName)
		}
	}
	return err
}
