package postgres

import (
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/adapters/adaptertest"
	"github.com/profilesync/profilesync/internal/testenv"
)

// testDB is a test database shared by subtests, each in its own schema.
type testDB struct {
	dsn string
}

// newTestDB creates a test database for the life of t, or skips t.
func newTestDB(t testing.TB) *testDB {
	t.Helper()
	return &testDB{dsn: testenv.PostgresDSN(t)}
}

// config returns the settings of a fresh random schema in the test database.
func (d *testDB) config(t testing.TB) adapters.Config {
	t.Helper()
	u, err := url.Parse(d.dsn)
	if err != nil {
		t.Fatalf("parsing test DSN: %v", err)
	}
	password, _ := u.User.Password()
	return adapters.Config{
		Type: Type,
		Settings: map[string]string{
			"host":     u.Hostname(),
			"port":     u.Port(),
			"user":     u.User.Username(),
			"database": strings.TrimPrefix(u.Path, "/"),
			"schema":   testenv.Name("Schema"), // mixed case: quoted everywhere
			"sslmode":  u.Query().Get("sslmode"),
		},
		Secret: password,
	}
}

// open opens a Warehouse on a fresh schema.
func (d *testDB) open(t testing.TB) *Warehouse {
	t.Helper()
	w, err := open(d.config(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	w.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return w
}

func TestConformance(t *testing.T) {
	db := newTestDB(t)
	adaptertest.Run(t, func(t *testing.T) adapters.Warehouse { return db.open(t) })
}
