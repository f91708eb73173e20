package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilesync/profilesync/admin"
	"github.com/profilesync/profilesync/internal/testenv"
)

// ingest sends the crash test's batches to the deployment, four at a time.
func (d *deployment) ingest(batches []crashBatch, writeKey string) {
	d.t.Helper()
	var wg sync.WaitGroup
	next := make(chan []byte)
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for body := range next {
				req, _ := http.NewRequest(http.MethodPost, d.worker.url("/v1/batch"), bytes.NewReader(body))
				req.SetBasicAuth(writeKey, "")
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("HTTP %d", resp.StatusCode)
					return
				}
			}
		})
	}
	for _, b := range batches {
		next <- bytes.Replace(b.body, []byte(`"writeKey":"`+"wk_e2e_test"+`"`), []byte(`"writeKey":"`+writeKey+`"`), 1)
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		d.t.Fatalf("ingesting: %v", err)
	default:
	}
}

// setupSpace creates space main with source web and returns its write key.
func (d *deployment) setupSpace() string {
	d.t.Helper()
	var sp admin.Space
	d.cliJSON("admin", "", &sp, "space", "add", "main")
	var src admin.NewSource
	d.cliJSON("admin", "", &src, "source", "add", "main", "--id", "web")
	return src.WriteKey
}

// addWarehouse adds and approves a PostgreSQL warehouse and returns its id.
func (d *deployment) addWarehouse(name, host string, port int, user, password, database, schema string) string {
	d.t.Helper()
	var st admin.WarehouseStatus
	d.cliJSON("admin", password+"\n", &st, "warehouse", "add", name, "--space", "main", "--type", "postgres",
		"--host", host, "--port", strconv.Itoa(port), "--user", user, "--database", database, "--schema", schema, "--password-stdin")
	if st.Status == nil || st.Status.State != "awaiting_approval" {
		d.t.Fatalf("warehouse %s after add: %+v", name, st.Status)
	}
	d.cliJSON("staff", "", &st, "warehouse", "approve", st.Warehouse.ID)
	return st.Warehouse.ID
}

// pgTarget is a warehouse database on the shared trust-auth server.
type pgTarget struct {
	dsn, host, user, database string
	port                      int
}

func sharedWarehouse(t *testing.T) pgTarget {
	dsn := testenv.PostgresDSN(t)
	// DSN looks like postgres://user@host:port/db?...
	rest := strings.TrimPrefix(dsn, "postgres://")
	user, rest, _ := strings.Cut(rest, "@")
	hostport, rest, _ := strings.Cut(rest, "/")
	db, _, _ := strings.Cut(rest, "?")
	host, p, _ := strings.Cut(hostport, ":")
	port, _ := strconv.Atoi(p)
	return pgTarget{dsn: dsn, host: host, user: user, database: db, port: port}
}

// watermarks returns the warehouse's stream watermarks.
func watermarks(t *testing.T, dsn, schema string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, r := range queryMaybe(dsn, fmt.Sprintf(`SELECT stream, watermark FROM %q._profilesync_watermarks`, schema)) {
		n, _ := strconv.ParseInt(r[1], 10, 64)
		m[r[0]] = n
	}
	return m
}

// checksums returns, per table of a schema, its row count, distinct ids and a
// checksum of its rows without the load-time column uuid_ts.
func checksums(t *testing.T, dsn, schema string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tables := query(t, dsn, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name NOT LIKE '\_%' ORDER BY 1`, schema)
	for _, tr := range tables {
		table := tr[0]
		hasID := len(query(t, dsn, `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = 'id'`, schema, table)) == 1
		distinct := "0"
		if hasID {
			distinct = "count(DISTINCT id)"
		}
		r := query(t, dsn, fmt.Sprintf(`SELECT count(*), %s, coalesce(md5(string_agg(j, ',' ORDER BY j)), '') FROM (SELECT (to_jsonb(x) - 'uuid_ts')::text AS j, x.* FROM %q.%q x) t`, distinct, schema, table))
		if hasID && r[0][0] != r[0][1] {
			t.Errorf("%s.%s: %s rows but %s distinct ids", schema, table, r[0][0], r[0][1])
		}
		out[table] = r[0][0] + " rows, checksum " + r[0][2]
	}
	return out
}

// TestCrashDuringLoad kills the worker with SIGKILL in the middle of a large
// first sync. After a restart the sync finishes, and the warehouse is
// identical, table by table (row counts and checksums), to one synced
// without interruption, with no duplicate ids.
func TestCrashDuringLoad(t *testing.T) {
	t.Parallel()
	crashed, reference := sharedWarehouse(t), sharedWarehouse(t)
	d := deploy(t, testenv.PostgresDSN(t), "PROFILESYNC_CHUNK_SIZE=500")
	writeKey := d.setupSpace()
	batches := crashBatches(500, 100) // 50,000 events
	d.ingest(batches, writeKey)
	storeDSN := strings.TrimPrefix(d.env[0], "PROFILESYNC_STORE_DSN=")
	resolved(t, storeDSN, "main", 50_000)

	id := d.addWarehouse("crashed", crashed.host, crashed.port, crashed.user, "unused", crashed.database, "main")
	waitFor(t, time.Minute, "the first chunks to land", func(context.Context) (bool, error) {
		return watermarks(t, crashed.dsn, "main")["id_graph_updates"] > 0, nil
	})
	d.restart() // SIGKILL, then start again
	before := watermarks(t, crashed.dsn, "main")
	t.Logf("killed the worker mid-load at watermarks %v", before)
	if before["events"] >= 50_000 {
		t.Fatalf("the load had finished before the crash: %v", before)
	}
	// The lost attempt is retried after its heartbeat timeout.
	if s := d.waitSyncs(id, 1, 5*time.Minute)[0]; s.Status != "success" {
		t.Fatalf("sync after the crash: %+v", s)
	}

	ref := d.addWarehouse("reference", reference.host, reference.port, reference.user, "unused", reference.database, "main")
	if s := d.waitSyncs(ref, 1, 3*time.Minute)[0]; s.Status != "success" {
		t.Fatalf("reference sync: %+v", s)
	}
	got, want := checksums(t, crashed.dsn, "main"), checksums(t, reference.dsn, "main")
	if len(want) < 12 {
		t.Fatalf("the reference warehouse has only %d tables: %v", len(want), want)
	}
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s: crashed warehouse %q, uninterrupted %q", table, got[table], w)
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("table %s only in the crashed warehouse", table)
		}
	}
}

// TestWarehouseOutage stops the warehouse's server in the middle of a sync:
// the loads retry, then the sync reports failed with the error; once the
// server is back, the next sync lands everything that was missed.
func TestWarehouseOutage(t *testing.T) {
	t.Parallel()
	wh := testenv.PasswordCluster(t)
	d := deploy(t, testenv.PostgresDSN(t), "PROFILESYNC_CHUNK_SIZE=500")
	writeKey := d.setupSpace()
	d.ingest(crashBatches(300, 100), writeKey)
	storeDSN := strings.TrimPrefix(d.env[0], "PROFILESYNC_STORE_DSN=")
	resolved(t, storeDSN, "main", 30_000)

	id := d.addWarehouse("flaky", wh.Host, wh.Port, wh.User, wh.Password, wh.Database, "main")
	waitFor(t, time.Minute, "the first chunks to land", func(context.Context) (bool, error) {
		return watermarks(t, wh.DSN(), "main")["id_graph_updates"] > 0, nil
	})
	wh.Stop()
	t.Log("warehouse stopped mid-sync")
	failed := d.waitSyncs(id, 1, 6*time.Minute)[0]
	if failed.Status == "success" || len(failed.Errors) == 0 {
		t.Fatalf("sync during the outage: %+v", failed)
	}
	t.Logf("sync during the outage: %s, errors %q", failed.Status, failed.Errors)
	wfID, _, _ := strings.Cut(failed.ID, "~") // a report id is the workflow id and the run id
	out, err := d.temporalCLI("workflow", "show", "--workflow-id", wfID, "-o", "json")
	if err != nil || !strings.Contains(out, `"attempt": 5`) {
		t.Errorf("the failed loads were not retried 5 times: %v\n%.2000s", err, out)
	}

	wh.Start()
	var next admin.Sync
	d.cliJSON("admin", "", &next, "sync", "now", id, "--wait")
	if next.Status != "success" {
		t.Fatalf("sync after the outage: %+v", next)
	}
	// Everything is there exactly once.
	for table, want := range map[string]string{
		"tracks": "SELECT count(*) FROM inbox WHERE type = 'track'", "identifies": "SELECT count(*) FROM inbox WHERE type = 'identify'",
		"pages": "SELECT count(*) FROM inbox WHERE type = 'page'", "id_graph_updates": "SELECT count(*) FROM id_graph_updates",
		"external_id_mapping_updates": "SELECT count(*) FROM external_id_mapping_updates",
	} {
		w := query(t, storeDSN, want)[0][0]
		got := query(t, wh.DSN(), fmt.Sprintf(`SELECT count(*), count(DISTINCT id) FROM main.%q`, table))[0]
		if got[0] != w || got[1] != w {
			t.Errorf("%s: %s rows (%s distinct) in the warehouse, %s in the store", table, got[0], got[1], w)
		}
	}
}

// queryMaybe is query for a table that may not exist yet: no rows then.
func queryMaybe(dsn, sql string) [][]string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	return out
}
