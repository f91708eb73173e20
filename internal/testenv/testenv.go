// Package testenv gives tests the real services they run against: a fresh
// PostgreSQL database on the local server and the pinned Temporal dev server.
//
// A test that needs a service calls the helper, which skips the test when the
// service is missing, unless CI=true, where a missing service fails the run.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresDSN is the local server used when PROFILESYNC_TEST_PG is unset.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// missing skips the test, or fails it under CI.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// PostgresDSN creates an empty database on the test PostgreSQL server
// (PROFILESYNC_TEST_PG, default DefaultPostgresDSN), drops it when the test
// ends, and returns its DSN.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("PROFILESYNC_TEST_PG")
	if admin == "" {
		admin = DefaultPostgresDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		missing(t, "PostgreSQL not reachable at %s: %v", redact(admin), err)
		return ""
	}
	defer conn.Close(context.Background())
	name := "ps_test_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dropping test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parsing PROFILESYNC_TEST_PG: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact hides a password in a DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// RepoRoot returns the root of the repository (the folder holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testenv source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// TemporalCLI returns the path of the pinned temporal CLI: $TEMPORAL_CLI, or
// bin/temporal in the repository (built by make).
func TemporalCLI(t testing.TB) string {
	t.Helper()
	p := os.Getenv("TEMPORAL_CLI")
	if p == "" {
		p = filepath.Join(RepoRoot(t), "bin", "temporal")
	}
	if _, err := os.Stat(p); err != nil {
		missing(t, "temporal CLI not found at %s (run make bin/temporal): %v", p, err)
		return ""
	}
	return p
}

// Node returns the path of node and the folder holding the npm packages the
// tests use (testdata/node, installed by make), or skips.
func Node(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node not found: %v", err)
		return "", ""
	}
	dir = filepath.Join(RepoRoot(t), "testdata", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@segment", "analytics-node")); err != nil {
		missing(t, "npm packages not installed in %s (run make node-deps): %v", dir, err)
		return "", ""
	}
	return node, dir
}

// Name returns a random name with a prefix, for ids in tests.
func Name(prefix string) string {
	return fmt.Sprintf("%s_%s", prefix, randomHex(4))
}
