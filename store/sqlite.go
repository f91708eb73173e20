package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteStore is the SQLite store, for the embedded default. SQLite allows
// one writer at a time, so every write goes through a pool of a single
// connection whose transactions start with BEGIN IMMEDIATE (taking the write
// lock up front, waiting up to the busy timeout for another process);
// reads use a separate pool and run beside it thanks to WAL.
type sqliteStore struct {
	w, r   *sql.DB
	opts   Options
	sealer *sealer
}

var _ Store = (*sqliteStore)(nil)

// sqliteBusyTimeout is how long a connection waits for another one's lock.
const sqliteBusyTimeout = 10 * time.Second

func openSQLite(ctx context.Context, dsn string, opts Options, s *sealer) (*sqliteStore, error) {
	name := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
	if name == "" {
		return nil, errors.New("opening sqlite: empty database path")
	}
	pragmas := url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()),
		"foreign_keys(1)",
		"journal_mode(WAL)",
		"synchronous(FULL)", // an accepted event survives a power cut
	}}
	writerDSN := withQuery(name, pragmas, "_txlock=immediate")
	w, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	st := &sqliteStore{w: w, r: w, opts: opts, sealer: s}
	// Every connection to an in-memory database is a database of its own:
	// then readers share the writer's connection.
	if !strings.Contains(name, ":memory:") && !strings.Contains(name, "mode=memory") {
		st.r, err = sql.Open("sqlite", withQuery(name, pragmas, "_pragma=query_only(1)"))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("opening sqlite: %w", err)
		}
		st.r.SetMaxOpenConns(4)
	}
	// The writer connects first so that it sets WAL mode before any reader.
	if err := pingSQLite(ctx, w); err != nil {
		st.Close()
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	if err := migrate(ctx, opts.Logger, "sqlite", sqliteMigrator{w}); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// pingSQLite opens the first connection. Switching a new database to WAL
// needs an exclusive lock and does not wait on the busy timeout, so when
// another process opens the same new file at that moment, retry until the
// busy timeout has passed.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// withQuery appends parameters to a path or file: URI.
func withQuery(name string, params url.Values, extra string) string {
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	return name + sep + params.Encode() + "&" + extra
}

// Close closes both pools.
func (s *sqliteStore) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// sqliteMigrator runs migrations on the writer. BEGIN IMMEDIATE already
// serializes processes, so apply only checks again inside its transaction
// that no other process applied the migration meanwhile.
type sqliteMigrator struct{ db *sql.DB }

func (m sqliteMigrator) lock(ctx context.Context) (func(), error) {
	_, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (unixepoch('subsec') * 1000000))`)
	return func() {}, err
}

func (m sqliteMigrator) applied(ctx context.Context) (map[int]bool, error) {
	rows, err := m.db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}

func (m sqliteMigrator) apply(ctx context.Context, mig migration) (bool, error) {
	ran := false
	err := sqliteTx(ctx, m.db, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", mig.version).Scan(&n); err != nil || n > 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, mig.sql); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", mig.version, mig.name)
		ran = err == nil
		return err
	})
	return ran, err
}

// sqliteTx runs fn in a transaction of db, committing if it returns nil.
func sqliteTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// sqliteClassify maps SQLite errors to the store's, like pgClassify.
func sqliteClassify(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%s)", ErrConflict, se.Error())
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w (%s)", ErrNotFound, se.Error())
		}
	}
	return err
}

// Times are stored as microseconds since the Unix epoch, NULL for none.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}
