// Package duckdb is the warehouse adapter for an embedded DuckDB database
// file, the default warehouse of a local install.
//
// # Holding the file
//
// DuckDB lets one process at a time open a database file for writing. So
// that users can open the file with the DuckDB CLI, a notebook or a BI tool
// between syncs, a Warehouse holds it only while its methods run: Open
// checks the settings and nothing else; the first method opens the file,
// methods running at the same time share that handle, and it is closed
// when the last of them has been done for IdleClose, or at once by Close.
// Opening a DuckDB file takes 10-50 ms and closing it, which checkpoints
// the write-ahead log into the file, as long again; IdleClose spares that
// cost to the back-to-back methods of a sync. While another process holds
// the file, methods fail with an error that says so, and the sync's
// retries try again later.
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
	"sync"
	"time"

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
// concurrent use: methods that run at the same time share one handle on the
// file, which the last of them closes.
type Warehouse struct {
	path   string
	schema string

	mu     sync.Mutex
	db     *sql.DB // open while users > 0 and for idleClose after
	users  int
	idle   *time.Timer // closes db when it fires while users == 0
	closed bool

	idleClose time.Duration

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
	return &Warehouse{path: abs, schema: schema, idleClose: IdleClose}, nil
}

// Path is the database file.
func (w *Warehouse) Path() string { return w.path }

// Schema is the schema the tables live in.
func (w *Warehouse) Schema() string { return w.schema }

// IdleClose is how long a Warehouse keeps the file open after its last
// running method returns.
const IdleClose = time.Second

// Close closes the file now if no method is running, or else as soon as
// the running ones return; later methods fail.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.users == 0 {
		w.closeDB()
	}
	return nil
}

// conn returns a connection to the database file, opening the file if no
// other method holds it, and a function that closes the connection and,
// for the last user, the file. The file's folder is created if missing.
func (w *Warehouse) conn(ctx context.Context) (*sql.Conn, func(), error) {
	db, err := w.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := db.Conn(ctx)
	if err != nil {
		w.release()
		return nil, nil, openError(w.path, err)
	}
	return c, func() {
		_ = c.Close()
		w.release()
	}, nil
}

// acquire returns the open database, opening it if needed.
func (w *Warehouse) acquire(ctx context.Context) (*sql.DB, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("warehouse is closed")
	}
	if w.idle != nil {
		w.idle.Stop()
		w.idle = nil
	}
	if w.db == nil {
		db, err := openFile(ctx, w.path)
		if err != nil {
			return nil, err
		}
		w.db = db
	}
	w.users++
	return w.db, nil
}

// release ends a use of the database; after the last one it closes the
// database once it has been idle for idleClose.
func (w *Warehouse) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users--; w.users > 0 {
		return
	}
	if w.closed || w.idleClose <= 0 {
		w.closeDB()
		return
	}
	w.idle = time.AfterFunc(w.idleClose, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.users == 0 {
			w.closeDB()
		}
	})
}

// closeDB closes the database if it is open. The caller holds w.mu.
func (w *Warehouse) closeDB() {
	if w.idle != nil {
		w.idle.Stop()
		w.idle = nil
	}
	if w.db != nil {
		_ = w.db.Close()
		w.db = nil
	}
}

// Opening a file that another handle of the same process is closing fails
// for a moment with DuckDB's "Unique file handle conflict"; openFile retries
// for up to openRetryFor.
const (
	openRetryFor      = 5 * time.Second
	openRetryMaxSleep = 100 * time.Millisecond
)

// openFile opens the database file.
func openFile(ctx context.Context, path string) (*sql.DB, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("path %s is a directory, not a database file", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create folder of %s: %w", path, err)
	}
	deadline := time.Now().Add(openRetryFor)
	sleep := time.Millisecond
	for {
		connector, err := duckdb.NewConnector(path, initConn)
		if err == nil {
			return sql.OpenDB(connector), nil
		}
		if !strings.Contains(err.Error(), "Unique file handle conflict") || time.Now().After(deadline) {
			return nil, openError(path, err)
		}
		select {
		case <-ctx.Done():
			return nil, openError(path, errors.Join(ctx.Err(), err))
		case <-time.After(sleep):
		}
		sleep = min(2*sleep, openRetryMaxSleep)
	}
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
