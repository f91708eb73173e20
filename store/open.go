package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configure a store.
type Options struct {
	// MasterKey is the 32-byte AES-256 key that encrypts warehouse
	// credentials. Without it the store works, but PutCredentials and
	// Credentials return ErrNoMasterKey.
	MasterKey []byte
	// Logger receives the store's few log lines (migrations). Nil discards.
	Logger *slog.Logger
	// Now is the clock, for tests. Nil means time.Now.
	Now func() time.Time
}

// Errors about the master key. Neither ever carries key material.
var (
	// ErrNoMasterKey is returned by credential operations of a store
	// opened without Options.MasterKey.
	ErrNoMasterKey = errors.New("no master key configured")
	// ErrWrongKey is returned when stored credentials were encrypted with
	// another master key, or have been tampered with.
	ErrWrongKey = errors.New("credentials cannot be decrypted with this master key")
)

// Open opens the store named by dsn and brings its schema up to date.
//
// A DSN starting with postgres:// or postgresql:// opens PostgreSQL through
// a pgx pool (pool_max_conns and the other pgxpool parameters apply; other
// parameters are server settings, such as search_path). Anything else is a
// SQLite database: a file path, a "sqlite:" prefix followed by a path, or a
// "file:" URI; ":memory:" works, on a single connection.
func Open(ctx context.Context, dsn string, opts Options) (Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sealer, err := newSealer(opts.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if isPostgres(dsn) {
		return openPostgres(ctx, dsn, opts, sealer)
	}
	return openSQLite(ctx, dsn, opts, sealer)
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// clock returns the current time in UTC, truncated to the microsecond
// precision both databases keep.
func (o Options) clock() time.Time {
	return o.Now().UTC().Truncate(time.Microsecond)
}
