package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/profilesync/profilesync/admin"
	"github.com/profilesync/profilesync/internal/testenv"
)

// runScript is scripts/run.sh, the command behind make run.
type runScript struct {
	t    *testing.T
	cmd  *exec.Cmd
	data string
	logs *testenv.SyncBuffer
	done chan struct{}
}

// startMakeRun runs scripts/run.sh with its defaults but for the ports and
// the data folder, and waits until it printed that it is running.
func startMakeRun(t *testing.T, data, httpAddr string, temporalPort, uiPort int) *runScript {
	t.Helper()
	binary(t, "profilesync-worker")
	ready := filepath.Join(data, "ready")
	os.Remove(ready)
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(t), "scripts", "run.sh"))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PROFILESYNC_DATA=" + data, "PROFILESYNC_BIN=" + bins.dir, "TEMPORAL_CLI=" + testenv.TemporalCLI(t),
		"PROFILESYNC_HTTP_ADDR=" + httpAddr, fmt.Sprintf("TEMPORAL_PORT=%d", temporalPort),
		fmt.Sprintf("TEMPORAL_UI_PORT=%d", uiPort), "PROFILESYNC_READY_FILE=" + ready,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r := &runScript{t: t, cmd: cmd, data: data, logs: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("make run output:\n%s", r.logs.String())
		}
	})
	waitFor(t, 2*time.Minute, "make run to be ready", func(context.Context) (bool, error) {
		select {
		case <-r.done:
			return false, fmt.Errorf("run.sh exited:\n%s", r.logs.String())
		default:
		}
		_, err := os.Stat(ready)
		return err == nil, nil
	})
	return r
}

// stop stops the script and everything it started.
func (r *runScript) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
}

func (r *runScript) file(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.data, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// duckRows queries the DuckDB warehouse file.
func duckRows(t *testing.T, path, query string, args ...any) [][]string {
	t.Helper()
	var out [][]string
	// The worker opens the file only while an activity runs; retry if a
	// sync happens to hold it.
	waitFor(t, 30*time.Second, "reading the DuckDB warehouse", func(context.Context) (bool, error) {
		db, err := sql.Open("duckdb", path+"?access_mode=read_only")
		if err != nil {
			return false, err
		}
		defer db.Close()
		rows, err := db.Query(query, args...)
		if err != nil {
			if strings.Contains(err.Error(), "lock") {
				return false, nil
			}
			return false, fmt.Errorf("query %q: %w", query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		out = nil
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return false, err
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = fmt.Sprint(v)
			}
			out = append(out, row)
		}
		return true, rows.Err()
	})
	return out
}

// TestMakeRunDuckDB runs the same flow as TestPostgresLifecycle through make
// run's embedded defaults: the dev server, the worker on a SQLite store, the
// local DuckDB warehouse it creates and approves. State survives a restart.
func TestMakeRunDuckDB(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	httpAddr := freeAddr(t)
	ports := []int{freePort(t), freePort(t)}
	run := startMakeRun(t, data, httpAddr, ports[0], ports[1])
	id, writeKey := run.file("warehouse_id"), run.file("write_key")
	token := strings.SplitN(run.file("tokens"), ":", 2)[1]
	d := &deployment{t: t, worker: &workerProc{addr: httpAddr}, temporal: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		tokens: map[string]string{"staff": token, "admin": token, "viewer": token}}

	var st admin.WarehouseStatus
	d.cliJSON("viewer", "", &st, "warehouse", "status", id)
	if st.Status == nil || st.Status.State != "enabled" || st.Warehouse.Type != "duckdb" || st.Status.ApprovedBy == "" {
		t.Fatalf("make run's warehouse: %+v", st)
	}
	duck := filepath.Join(data, "warehouse.duckdb")

	d.track(writeKey, caseStudy()...)
	resolved(t, filepath.Join(data, "profilesync.db"), "default", 4)
	var first admin.Sync
	d.cliJSON("admin", "", &first, "sync", "now", id, "--wait")
	if first.Status != "success" {
		t.Fatalf("sync: %+v", first)
	}
	graph := duckRows(t, duck, `SELECT segment_id, canonical_segment_id, triggering_event_type, triggering_event_id FROM "default".id_graph_updates ORDER BY seq`)
	if len(graph) != 3 {
		t.Fatalf("id_graph_updates: %v", graph)
	}
	p1, p2 := graph[0][0], graph[1][0]
	checks := []struct {
		what  string
		query string
		want  [][]string
	}{
		{"id_graph_updates", `SELECT segment_id, canonical_segment_id, triggering_event_type, triggering_event_id FROM "default".id_graph_updates ORDER BY seq`,
			[][]string{{p1, p1, "page", "E1"}, {p2, p2, "page", "E3"}, {p2, p1, "identify", "E4"}}},
		{"external_id_mapping_updates", `SELECT external_id_type, external_id_value, segment_id FROM "default".external_id_mapping_updates ORDER BY seq`,
			[][]string{{"anonymous_id", "5285", p1}, {"email", "jane@example.com", p1}, {"anonymous_id", "b50e", p2}}},
		{"id_graph", `SELECT segment_id, canonical_segment_id FROM "default".id_graph ORDER BY segment_id <> '` + p1 + `'`,
			[][]string{{p1, p1}, {p2, p1}}},
		{"profile_merges", `SELECT segment_id, canonical_segment_id FROM "default".profile_merges ORDER BY segment_id <> '` + p1 + `'`,
			[][]string{{p1, p1}, {p2, p1}}},
		{"external_id_mapping", `SELECT external_id_type, external_id_value, canonical_segment_id FROM "default".external_id_mapping ORDER BY 1, 2`,
			[][]string{{"anonymous_id", "5285", p1}, {"anonymous_id", "b50e", p1}, {"email", "jane@example.com", p1}}},
		{"user_identifiers", `SELECT type, value, canonical_segment_id FROM "default".user_identifiers ORDER BY 1, 2`,
			[][]string{{"anonymous_id", "5285", p1}, {"anonymous_id", "b50e", p1}, {"email", "jane@example.com", p1}}},
		{"profile_traits", `SELECT canonical_segment_id, email, merged_to FROM "default".profile_traits ORDER BY canonical_segment_id <> '` + p1 + `'`,
			[][]string{{p1, "jane@example.com", "<nil>"}, {p2, "<nil>", p1}}},
		{"user_traits", `SELECT canonical_segment_id, name, value FROM "default".user_traits`,
			[][]string{{p1, "email", "jane@example.com"}}},
		{"event tables", `SELECT (SELECT count(*) FROM "default".pages), (SELECT count(*) FROM "default".identifies)`,
			[][]string{{"2", "2"}}},
	}
	for _, c := range checks {
		if got := duckRows(t, duck, c.query); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got  %v\n want %v", c.what, got, c.want)
		}
	}

	// Restart make run: the same warehouse, still enabled; a sync moves only
	// what is new.
	run.stop()
	run = startMakeRun(t, data, httpAddr, ports[0], ports[1])
	if got := run.file("warehouse_id"); got != id {
		t.Fatalf("after a restart the warehouse is %s, was %s", got, id)
	}
	d.track(writeKey, map[string]any{"type": "track", "messageId": "E5", "anonymousId": "5285", "event": "Order Completed"})
	resolved(t, filepath.Join(data, "profilesync.db"), "default", 5)
	var second admin.Sync
	d.cliJSON("admin", "", &second, "sync", "now", id, "--wait")
	if got := tableRows(second); second.Status != "success" || got["tracks"] != 1 || got["id_graph_updates"] != 0 || got["pages"] != 0 {
		t.Fatalf("sync after a restart: %+v", second)
	}
	if got := duckRows(t, duck, `SELECT count(*) FROM "default".tracks`); !reflect.DeepEqual(got, [][]string{{"1"}}) {
		t.Errorf("tracks after the second sync: %v", got)
	}

	// Disable, enable, delete.
	d.cliJSON("admin", "", &st, "warehouse", "disable", id)
	if !st.Paused || st.Status.State != "disabled" {
		t.Fatalf("after disable: %+v", st)
	}
	d.cliJSON("admin", "", &st, "warehouse", "enable", id)
	if st.Paused || st.Status.State != "enabled" {
		t.Fatalf("after enable: %+v", st)
	}
	if r := d.cli("admin", "", "warehouse", "delete", id); r.code != 1 {
		t.Fatalf("delete while enabled: exit %d", r.code)
	}
	d.cliJSON("admin", "", &st, "warehouse", "disable", id)
	if r := d.cli("admin", "", "warehouse", "delete", id); r.code != 0 {
		t.Fatalf("delete: exit %d %s", r.code, r.stderr)
	}
	if r := d.cli("viewer", "", "warehouse", "status", id); r.code != 1 || !strings.Contains(r.stderr, "HTTP 404") {
		t.Fatalf("status after delete: exit %d %s", r.code, r.stderr)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	addr := freeAddr(t)
	var port int
	fmt.Sscanf(addr[strings.LastIndex(addr, ":")+1:], "%d", &port)
	return port
}
