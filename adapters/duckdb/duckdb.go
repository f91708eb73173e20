// Package duckdb is the warehouse adapter for an embedded DuckDB database
// file, the default warehouse of a local install.
//
// # Holding the file
//
// DuckDB lets one process at a time open a database file for writing. So
// that users can open the file with the DuckDB CLI, a notebook or a BI tool
// between syncs, a Warehouse keeps it open only while one of its methods
// runs: Open checks the settings and nothing else, and every method opens
// the file, does its work and closes it again. Opening a DuckDB file takes
// milliseconds; closing it checkpoints the write-ahead log into the file.
// While another process holds the file, methods fail with an error that
// says so, and the sync's retries try again later.
//
// Inside one process the driver shares one database instance among all
// connections to the same file, so methods of one or several Warehouses may
// run concurrently; DuckDB's optimistic concurrency control then fails a
// transaction that writes rows another running transaction wrote.
//
// # Loading
//
// Load runs in one transaction: it reads the stream's watermark, bulk loads
// each run of rows into a temporary staging table with the DuckDB appender,
// upserts the staging table into the target by id and moves the watermark.
// The appender writes through the connection's open transaction, so a
// failure at any point leaves target and watermark as they were.
//
// # Identifiers
//
// DuckDB compares identifiers case-insensitively (while keeping their case),
// so a table cannot have both "Email" and "email"; EnsureTable treats a
// column that differs only in case as present.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/profilesync/profilesync/adapters"
)

// Type is the Config.Type of a DuckDB warehouse.
const Type = "duckdb"

// DefaultSchema is the schema used when the settings name none.
const DefaultSchema = "main"

// The settings of a DuckDB warehouse.
const (
	settingPath   = "path"
	settingSchema = "schema"
)

// WatermarksTable is the bookkeeping table of stream watermarks.
const WatermarksTable = "_profilesync_watermarks"

// MaterializeStream is the watermark stream of Materialize.
const MaterializeStream = "materialize"

// errPrefix starts every error of the package.
const errPrefix = "duckdb"

// Warehouse is a DuckDB database file and a schema in it. It is safe for
// concurrent use.
type Warehouse struct {
	path   string
	schema string
	closed atomic.Bool

	// beforeCommit, when set by a test, runs just before a Load or
	// Materialize commits; an error makes the operation fail and roll back.
	beforeCommit func(op string) error
}

var _ adapters.Warehouse = (*Warehouse)(nil)

// Open returns the warehouse that cfg describes. Settings: "path", the
// database file, created with its folder on first use; "schema", default
// "main". Open does not touch the file (see the package documentation);
// Test reports whether it can be used.
func Open(_ context.Context, cfg adapters.Config) (adapters.Warehouse, error) {
	if cfg.Type != "" && cfg.Type != Type {
		return nil, fmt.Errorf("%s: open: config is for warehouse type %q", errPrefix, cfg.Type)
	}
	path := strings.TrimSpace(cfg.Settings[settingPath])
	if path == "" {
		return nil, fmt.Errorf("%s: open: setting %q (the database file) is required", errPrefix, settingPath)
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("%s: open: setting %q must be a file path without '?'", errPrefix, settingPath)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open: path %s: %w", errPrefix, path, err)
	}
	schema := cfg.Settings[settingSchema]
	if schema == "" {
		schema = DefaultSchema
	}
	return &Warehouse{path: abs, schema: schema}, nil
}

// Path is the database file.
func (w *Warehouse) Path() string { return w.path }

// Schema is the schema the tables live in.
func (w *Warehouse) Schema() string { return w.schema }

// Close marks the warehouse closed. The file is held only while a method
// runs, so there is nothing else to release.
func (w *Warehouse) Close() error {
	w.closed.Store(true)
	return nil
}

// conn opens the database file and returns a connection to it and a
// function that closes both. The file's folder is created if missing.
func (w *Warehouse) conn(ctx context.Context) (*sql.Conn, func(), error) {
	if w.closed.Load() {
		return nil, nil, errors.New("warehouse is closed")
	}
	if fi, err := os.Stat(w.path); err == nil && fi.IsDir() {
		return nil, nil, fmt.Errorf("path %s is a directory, not a database file", w.path)
	}
	if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create folder of %s: %w", w.path, err)
	}
	connector, err := duckdb.NewConnector(w.path, initConn)
	if err != nil {
		return nil, nil, openError(w.path, err)
	}
	db := sql.OpenDB(connector)
	c, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, nil, openError(w.path, err)
	}
	return c, func() {
		_ = c.Close()
		_ = db.Close()
	}, nil
}

// initConn prepares each new connection: timestamps are read and rendered in
// UTC whatever the machine's time zone.
func initConn(execer driver.ExecerContext) error {
	_, err := execer.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil)
	return err
}

// openError explains a failure to open the database file.
func openError(path string, err error) error {
	if strings.Contains(strings.ToLower(err.Error()), "could not set lock") {
		return fmt.Errorf("open %s: another process holds the database file; "+
			"close other DuckDB sessions on it (such as the DuckDB CLI) and retry: %w", path, err)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// do runs fn on a fresh connection to the file and wraps its error with the
// operation's name.
func (w *Warehouse) do(ctx context.Context, op string, fn func(*sql.Conn) error) error {
	c, done, err := w.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", errPrefix, op, err)
	}
	defer done()
	if err := fn(c); err != nil {
		return fmt.Errorf("%s: %s: %w", errPrefix, op, err)
	}
	return nil
}

// inTx runs fn in a transaction on c, committing when fn succeeds and ctx
// is not done, and rolling back otherwise. The rollback runs even when ctx
// is done.
func inTx(ctx context.Context, c *sql.Conn, fn func() error) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once begun, the commit is not interrupted: DuckDB may report an
	// interrupted COMMIT as failed after it has taken effect.
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// table returns the quoted, schema-qualified name of a table.
func (w *Warehouse) table(name string) string {
	return quote(w.schema) + "." + quote(name)
}

// hook runs the test hook, if any.
func (w *Warehouse) hook(op string) error {
	if w.beforeCommit == nil {
		return nil
	}
	return w.beforeCommit(op)
}
