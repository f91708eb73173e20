// Package postgres is the PostgreSQL warehouse adapter.
//
// It loads chunks with COPY into a temporary staging table and merges them
// into their targets by id, moving the stream's watermark in the same
// transaction, and maintains the current-state tables incrementally from
// the change logs (see Materialize). It uses lib/pq through database/sql.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/profilesync/profilesync/adapters"
)

// Type is the warehouse type of this adapter in adapters.Config.
const Type = "postgres"

// watermarksTable is the bookkeeping table of stream watermarks.
const watermarksTable = "_profilesync_watermarks"

// Warehouse is an open connection pool to one schema of a PostgreSQL
// database. It is safe for concurrent use.
type Warehouse struct {
	db     *sql.DB
	schema string
	secret string // only to redact it from errors
	log    *slog.Logger
}

var _ adapters.Warehouse = (*Warehouse)(nil)

// Open returns a Warehouse for cfg. Settings: host, port (default 5432),
// user, database, schema and sslmode (default disable); cfg.Secret is the
// password. Open does not connect: Test does.
func Open(ctx context.Context, cfg adapters.Config) (adapters.Warehouse, error) {
	w, err := open(cfg)
	if err != nil {
		return nil, err
	}
	return w, nil
}

func open(cfg adapters.Config) (*Warehouse, error) {
	if cfg.Type != "" && cfg.Type != Type {
		return nil, fmt.Errorf("postgres: warehouse type %q", cfg.Type)
	}
	s := cfg.Settings
	for _, k := range []string{"host", "user", "database", "schema"} {
		if s[k] == "" {
			return nil, fmt.Errorf("postgres: setting %q is required", k)
		}
	}
	if err := checkIdent(s["schema"]); err != nil {
		return nil, fmt.Errorf("postgres: schema: %w", err)
	}
	port := s["port"]
	if port == "" {
		port = "5432"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("postgres: invalid port %q", port)
	}
	sslmode := s["sslmode"]
	if sslmode == "" {
		sslmode = "disable"
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(s["user"], cfg.Secret),
		Host:   net.JoinHostPort(s["host"], port),
		Path:   "/" + s["database"],
		RawQuery: url.Values{
			"sslmode":          {sslmode},
			"connect_timeout":  {"10"},
			"application_name": {"profilesync"},
		}.Encode(),
	}
	w := &Warehouse{
		schema: s["schema"],
		secret: cfg.Secret,
		log:    slog.Default().With("warehouse", Type, "host", s["host"], "database", s["database"], "schema", s["schema"]),
	}
	pqCfg, err := pq.NewConfig(u.String())
	if err != nil {
		return nil, w.redact(fmt.Errorf("postgres: %w", err))
	}
	// The password is the warehouse's secret, even when empty: never one
	// from the worker's PGPASSWORD or ~/.pgpass, meant for other servers.
	// The passfile is a path that cannot exist ("/dev/null/pgpass"): lib/pq
	// skips it quietly, where os.DevNull itself draws a permissions warning
	// on every connection without a password.
	pqCfg.Password, pqCfg.Passfile = cfg.Secret, filepath.Join(os.DevNull, "pgpass")
	connector, err := pq.NewConnectorConfig(pqCfg)
	if err != nil {
		return nil, w.redact(fmt.Errorf("postgres: %w", err))
	}
	w.db = sql.OpenDB(connector)
	w.db.SetMaxIdleConns(4)
	w.db.SetConnMaxIdleTime(5 * time.Minute)
	return w, nil
}

// Close closes the connection pool.
func (w *Warehouse) Close() error { return w.db.Close() }

// Dialect returns PostgreSQL's dialect.
func (w *Warehouse) Dialect() adapters.Dialect { return Dialect{} }

// QualifiedName returns the quoted name of a table of the warehouse schema.
func (w *Warehouse) QualifiedName(table string) string {
	return quoteIdent(w.schema) + "." + quoteIdent(table)
}

// Query runs a query and returns its rows; it serves the conformance suite
// and tests.
func (w *Warehouse) Query(ctx context.Context, query string) (_ [][]any, err error) {
	defer w.redactErr(&err)
	rows, err := w.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

func quoteIdent(name string) string { return Dialect{}.QuoteIdent(name) }

// checkIdent refuses a name PostgreSQL would truncate or cannot store.
func checkIdent(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > maxIdentLength:
		return fmt.Errorf("name %q is longer than %d bytes", name, maxIdentLength)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("name %q contains a NUL byte", name)
	}
	return nil
}

// redactedError hides the secret in an error's message and keeps the error
// chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every occurrence of the password replaced by
// "***". Passwords shorter than four bytes are not searched for: they would
// garble the message and redacting them hides nothing.
func (w *Warehouse) redact(err error) error {
	if err == nil || len(w.secret) < 4 || !strings.Contains(err.Error(), w.secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), w.secret, "***"), err: err}
}

// redactErr redacts *err in place, for deferred use.
func (w *Warehouse) redactErr(err *error) { *err = w.redact(*err) }

// message is an error's text without lib/pq's "pq: " prefix.
func message(err error) string {
	if pqErr, ok := errors.AsType[*pq.Error](err); ok {
		return pqErr.Message
	}
	return strings.TrimPrefix(err.Error(), "pq: ")
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
