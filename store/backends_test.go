package store

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for raw checks
	"github.com/profilesync/profilesync/internal/testenv"
)

// testKey is a master key for tests.
const testKey = "0123456789abcdef0123456789abcdef"

// backend makes fresh databases of one kind for the contract suite.
type backend struct {
	name string
	// dsn returns the DSN of a new, empty database.
	dsn func(t testing.TB) string
	// raw opens a database/sql handle on dsn for checks behind the store's
	// back. Both drivers take $1 placeholders.
	raw func(t *testing.T, dsn string) *sql.DB
}

// postgresBackend creates one database for the test (see
// testenv.PostgresDSN) and gives each caller of dsn a schema of its own in
// it: creating a schema is much cheaper than creating a database.
func postgresBackend(t testing.TB) backend {
	db := testenv.PostgresDSN(t)
	return backend{
		name: "postgres",
		dsn: func(t testing.TB) string {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			schema := testenv.Name("s")
			if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(db)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		},
		raw: func(t *testing.T, dsn string) *sql.DB { return rawDB(t, "pgx", dsn) },
	}
}

func sqliteBackend() backend {
	return backend{
		name: "sqlite",
		dsn:  func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "store.db") },
		raw: func(t *testing.T, dsn string) *sql.DB {
			return rawDB(t, "sqlite", strings.TrimPrefix(dsn, "sqlite:"))
		},
	}
}

func TestPostgres(t *testing.T) { runContract(t, postgresBackend(t)) }

func TestSQLite(t *testing.T) { runContract(t, sqliteBackend()) }

func rawDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("opening raw %s handle: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openStore opens dsn and closes the store when the test ends.
func openStore(t testing.TB, dsn string, opts Options) Store {
	t.Helper()
	if opts.MasterKey == nil {
		opts.MasterKey = []byte(testKey)
	}
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// count runs a count(*) query on a raw handle.
func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestSQLiteDSNForms opens each accepted spelling of a SQLite DSN.
func TestSQLiteDSNForms(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite:" + filepath.Join(dir, "prefixed.db"),
		"file:" + filepath.Join(dir, "uri.db") + "?cache=private",
		":memory:",
		"sqlite::memory:",
	} {
		t.Run(dsn, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, dsn, Options{})
			if err := s.CreateSpace(ctx, Space{ID: "sp", Name: "sp"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, []InboxEvent{event("sp", "m", t0)}, 0); err != nil {
				t.Fatal(err)
			}
			if got, err := s.ReadInbox(ctx, "sp", 0, 10); err != nil || len(got) != 1 {
				t.Fatalf("ReadInbox = %v, %v", got, err)
			}
		})
	}
	if _, err := Open(context.Background(), "sqlite:", Options{}); err == nil {
		t.Error("Open accepted an empty SQLite path")
	}
}
