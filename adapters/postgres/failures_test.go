package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/internal/testenv"
)

// badPassword is a password that must never show up in an error.
const badPassword = "s3cret-P@ss:w/rd?#'\" \\ -never-in-errors"

// checkFailedStep checks that Test failed at step with an error that
// contains want and not the password.
func checkFailedStep(t *testing.T, w adapters.Warehouse, step, want string) {
	t.Helper()
	steps, err := w.Test(t.Context())
	if err == nil {
		t.Fatalf("Test succeeded: %+v", steps)
	}
	t.Logf("Test: %v", err)
	if !strings.HasPrefix(err.Error(), step+": ") || !strings.Contains(err.Error(), want) {
		t.Errorf("Test error %q, want %q naming step %s", err, want, step)
	}
	if len(steps) == 0 || steps[len(steps)-1].Name != step || steps[len(steps)-1].OK || steps[len(steps)-1].Error != err.Error() {
		t.Errorf("steps %+v, want the last one %s failed with the error", steps, step)
	}
	for _, s := range steps {
		if strings.Contains(s.Error, badPassword) {
			t.Errorf("step %s error contains the password: %q", s.Name, s.Error)
		}
	}
	if strings.Contains(err.Error(), badPassword) || strings.Contains(fmt.Sprintf("%+v", err), badPassword) {
		t.Errorf("error contains the password: %q", err)
	}
}

func testConfig(host, port string) adapters.Config {
	return adapters.Config{Type: Type, Settings: map[string]string{
		"host": host, "port": port, "user": "x", "database": "db", "schema": "s",
	}, Secret: badPassword}
}

func TestWrongPassword(t *testing.T) {
	host, port, passwords := testenv.RefusingPostgres(t)
	w, err := Open(t.Context(), testConfig(host, port))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer w.Close()
	checkFailedStep(t, w, "connect", `password authentication failed for user "x"`)
	select {
	case p := <-passwords:
		if p != badPassword {
			t.Errorf("server received password %q, want %q", p, badPassword)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("server received no password")
	}
}

func TestWrongPasswordRealServer(t *testing.T) {
	db := newTestDB(t)
	cfg := db.config(t)
	role := "ps_role_" + randomHex(4)
	admin, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.db.ExecContext(t.Context(), "CREATE ROLE "+role+" LOGIN PASSWORD 'right-password'"); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.db.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role) })
	cfg.Settings["user"], cfg.Secret = role, badPassword
	w, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if steps, err := w.Test(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "connect: ") {
		t.Skipf("the test server does not check passwords (steps %+v, error %v)", steps, err)
	}
	checkFailedStep(t, w, "connect", "password authentication failed")
}

func TestWrongHost(t *testing.T) {
	for name, hostPort := range map[string][2]string{
		"unknown host":       {"no-such-host.invalid", "5432"},
		"connection refused": {"127.0.0.1", "1"},
	} {
		t.Run(name, func(t *testing.T) {
			w, err := Open(t.Context(), testConfig(hostPort[0], hostPort[1]))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer w.Close()
			checkFailedStep(t, w, "connect", hostPort[0])
		})
	}
}

func TestOpenRefusesBadSettings(t *testing.T) {
	for name, mutate := range map[string]func(*adapters.Config){
		"no host":      func(c *adapters.Config) { delete(c.Settings, "host") },
		"no schema":    func(c *adapters.Config) { delete(c.Settings, "schema") },
		"bad port":     func(c *adapters.Config) { c.Settings["port"] = "99999" },
		"long schema":  func(c *adapters.Config) { c.Settings["schema"] = strings.Repeat("s", 64) },
		"another type": func(c *adapters.Config) { c.Type = "snowflake" },
	} {
		cfg := testConfig("localhost", "5432")
		mutate(&cfg)
		if _, err := Open(t.Context(), cfg); err == nil {
			t.Errorf("%s: Open succeeded", name)
		} else if strings.Contains(err.Error(), badPassword) {
			t.Errorf("%s: error contains the password: %v", name, err)
		}
	}
}

func TestRedact(t *testing.T) {
	w := &Warehouse{secret: badPassword}
	inner := errors.New("boom " + badPassword + " and " + badPassword)
	err := w.redact(fmt.Errorf("wrapped: %w", inner))
	if strings.Contains(err.Error(), badPassword) || !strings.Contains(err.Error(), "boom *** and ***") {
		t.Errorf("redacted error %q", err)
	}
	if !errors.Is(err, inner) {
		t.Errorf("redacted error lost its chain")
	}
	if plain := errors.New("nothing secret"); w.redact(plain) != plain {
		t.Errorf("error without the secret was changed")
	}
}

// graphRows returns n id_graph_updates rows with ids prefix0..prefixN-1
// and seqs from seq0.
func graphRows(prefix string, n int, seq0 int64) adapters.Rows {
	r := adapters.Rows{Table: adapters.TableIDGraphUpdates, Columns: columnNames(adapters.IDGraphUpdates().Columns)}
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		seg := fmt.Sprintf("use_%027d", i)
		r.Values = append(r.Values, []any{
			fmt.Sprintf("%s%09d", prefix, i), seq0 + int64(i), seg, seg,
			"evt_" + seg, "identify", nil, "src_1", "Source", "source-slug",
			ts, ts.Add(time.Second), ts.Add(time.Minute),
		})
	}
	return r
}

func columnNames(cols []adapters.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// TestKilledConnectionMidLoad terminates the loading backend during the
// direct COPY of new rows, during the COPY into the staging table of rows
// whose ids exist, and during the merge: nothing is applied, and a retry
// lands every row once.
func TestKilledConnectionMidLoad(t *testing.T) {
	db := newTestDB(t)
	for _, phase := range []struct {
		name, query string
		first       string // id prefix of the rows loaded first
	}{
		{"direct copy", `COPY "Schema%`, "other"},
		{"staging copy", `COPY "_profilesync_stage%`, "g"},
		{"merge", `INSERT INTO %ON CONFLICT%`, "g"},
	} {
		t.Run(phase.name, func(t *testing.T) {
			w := db.open(t)
			defer w.Close()
			ctx := t.Context()
			if err := w.EnsureSchema(ctx); err != nil {
				t.Fatal(err)
			}
			if err := w.EnsureTable(ctx, adapters.IDGraphUpdates()); err != nil {
				t.Fatal(err)
			}
			// 1,000 rows first, which the big chunk overlaps if their
			// prefix is "g".
			if _, err := w.Load(ctx, adapters.Chunk{Stream: "graph", Upto: 1000, Tables: []adapters.Rows{graphRows(phase.first, 1000, 1)}}); err != nil {
				t.Fatal(err)
			}
			const n = 100_000
			want := int64(n)
			if phase.first != "g" {
				want += 1000
			}
			big := adapters.Chunk{Stream: "graph", After: 1000, Upto: 2000, Tables: []adapters.Rows{graphRows("g", n, 1001)}}

			killed := make(chan error, 1)
			go func() { killed <- killBackend(ctx, w.db, phase.query) }()
			_, err := w.Load(ctx, big)
			if kerr := <-killed; kerr != nil {
				t.Fatalf("killing the backend: %v", kerr)
			}
			if err == nil {
				t.Fatalf("Load succeeded although its backend was terminated")
			}
			t.Logf("Load: %v", err)
			countRows(t, w, 1000, 1000)

			res, err := w.Load(ctx, big)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if res.Rows[adapters.TableIDGraphUpdates] != n {
				t.Errorf("retry merged %v rows, want %d", res.Rows, n)
			}
			countRows(t, w, want, 2000)
		})
	}
}

// killBackend waits for a profilesync backend running a query like pattern
// and terminates it.
func killBackend(ctx context.Context, db *sql.DB, pattern string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var killed bool
		err := db.QueryRowContext(ctx, `SELECT COALESCE(bool_or(pg_terminate_backend(pid)), false)
			FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
				AND application_name = 'profilesync' AND state = 'active' AND query LIKE $1`, pattern).Scan(&killed)
		if err != nil {
			return err
		}
		if killed {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("no backend ran %q", pattern)
}

// countRows checks the rows of id_graph_updates (all distinct) and the
// watermark.
func countRows(t *testing.T, w *Warehouse, rows, watermark int64) {
	t.Helper()
	var total, distinct int64
	err := w.db.QueryRowContext(t.Context(), "SELECT COUNT(*), COUNT(DISTINCT id) FROM "+w.QualifiedName(adapters.TableIDGraphUpdates)).Scan(&total, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if total != rows || distinct != rows {
		t.Errorf("%d rows (%d distinct ids), want %d", total, distinct, rows)
	}
	wm, err := w.Watermark(t.Context(), "graph")
	if err != nil {
		t.Fatal(err)
	}
	if wm != watermark {
		t.Errorf("watermark %d, want %d", wm, watermark)
	}
}

// TestNoPasswordFromEnvironment: a warehouse without a secret does not send
// the worker's PGPASSWORD, meant for another server.
func TestNoPasswordFromEnvironment(t *testing.T) {
	t.Setenv("PGPASSWORD", "worker-password")
	host, port, passwords := testenv.RefusingPostgres(t)
	cfg := testConfig(host, port)
	cfg.Secret = ""
	w, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer w.Close()
	if _, err := w.Test(t.Context()); err == nil {
		t.Fatal("Test succeeded against a server that rejects every password")
	}
	select {
	case p := <-passwords:
		if p != "" {
			t.Errorf("server received password %q, want none", p)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("server received no password message")
	}
}
