package e2e

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilesync/profilesync/admin"
	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/store"
)

// query returns the rows of a SQL query as strings (NULL as "<nil>").
func query(t *testing.T, dsn, sql string, args ...any) [][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the warehouse: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return out
}

func wantRows(t *testing.T, what string, got [][]string, want ...[]string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// syncs lists a warehouse's sync reports, newest first.
func (d *deployment) syncs(id string) []admin.Sync {
	d.t.Helper()
	var out []admin.Sync
	d.cliJSON("viewer", "", &out, "syncs", "list", id)
	return out
}

// waitSyncs waits until a warehouse has n finished sync reports.
func (d *deployment) waitSyncs(id string, n int, timeout time.Duration) []admin.Sync {
	d.t.Helper()
	var out []admin.Sync
	waitFor(d.t, timeout, fmt.Sprintf("%d syncs of %s", n, id), func(context.Context) (bool, error) {
		out = d.syncs(id)
		done := 0
		for _, s := range out {
			if s.Status != "running" {
				done++
			}
		}
		return done >= n, nil
	})
	return out
}

func tableRows(s admin.Sync) map[string]int64 {
	m := map[string]int64{}
	for _, t := range s.Tables {
		m[t.Table] = t.Rows
	}
	return m
}

// TestPostgresLifecycle runs a warehouse's whole life on the real dev server,
// a PostgreSQL store and a password-checking PostgreSQL warehouse: a wrong
// password fails the test and blocks approval; a fixed one passes; staff
// approve with the temporal CLI; the first sync lands the docs' case study
// and the six current-state tables; a sync now moves only new rows; disable
// stops runs; enable resumes; delete removes the credentials. Last, neither
// the password nor a trait value appears in any workflow history, log line or
// report.
func TestPostgresLifecycle(t *testing.T) {
	t.Parallel()
	wh := testenv.PasswordCluster(t)
	storeDSN := testenv.PostgresDSN(t)
	d := deploy(t, storeDSN)
	secretTrait := "trait-value-" + randomHex(6)
	start := time.Now()
	step := func(name string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), name) }

	// A space and a source.
	var sp admin.Space
	d.cliJSON("admin", "", &sp, "space", "add", "main")
	var src admin.NewSource
	d.cliJSON("admin", "", &src, "source", "add", "main", "--id", "web")
	d.track(src.WriteKey, caseStudy()...)

	step("wrong password")
	// A wrong password: the test fails clearly and approval is impossible.
	add := []string{"warehouse", "add", "pg", "--space", "main", "--type", "postgres", "--host", wh.Host,
		"--port", strconv.Itoa(wh.Port), "--user", wh.User, "--database", wh.Database, "--schema", "main", "--password-stdin"}
	r := d.cli("admin", "wrong-"+wh.Password+"\n", add...)
	if r.code != 1 || !strings.Contains(r.stdout, "password authentication failed") || !strings.Contains(r.stderr, "step connect") {
		t.Fatalf("adding with a wrong password: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var list []admin.Warehouse
	d.cliJSON("viewer", "", &list, "warehouse", "list")
	if len(list) != 1 || list[0].State != "test_failed" {
		t.Fatalf("warehouses after a failed test: %+v", list)
	}
	id := list[0].ID
	if r := d.cli("staff", "", "warehouse", "approve", id); r.code != 1 || !strings.Contains(r.stderr, "HTTP 409") {
		t.Fatalf("approving a warehouse whose test failed: exit %d %s", r.code, r.stderr)
	}

	step("retest")
	// The right password passes.
	var st admin.WarehouseStatus
	d.cliJSON("admin", wh.Password+"\n", &st, "warehouse", "test", id, "--password-stdin")
	if st.Status == nil || st.Status.State != "awaiting_approval" || !st.Status.LastTest.OK || len(st.Status.LastTest.Steps) != 5 {
		t.Fatalf("after a retest with the right password: %+v", st.Status)
	}

	step("approval")
	// Only staff approve: an admin token is refused by the API, and a
	// non-staff actor by the workflow's validator through the temporal CLI.
	if r := d.cli("admin", "", "warehouse", "approve", id); r.code != 1 || !strings.Contains(r.stderr, "HTTP 403") {
		t.Fatalf("approval with an admin token: exit %d %s", r.code, r.stderr)
	}
	out, err := d.temporalCLI("workflow", "update", "execute", "--workflow-id", "warehouse-"+id, "--name", "approve",
		"--input", `{"name":"mallory","role":"admin"}`)
	if err == nil || !strings.Contains(out, "may not do this") {
		t.Fatalf("approval by an admin actor through the temporal CLI: err %v\n%s", err, out)
	}
	// Staff approve with the temporal CLI: the first sync starts at once.
	resolved(t, storeDSN, "main", 4)
	if out, err := d.temporalCLI("workflow", "update", "execute", "--workflow-id", "warehouse-"+id, "--name", "approve",
		"--input", `{"name":"olivia","role":"staff"}`); err != nil {
		t.Fatalf("approval by staff through the temporal CLI: %v\n%s", err, out)
	}
	first := d.waitSyncs(id, 1, 2*time.Minute)[0]
	if first.Status != "success" {
		t.Fatalf("first sync: %+v", first)
	}

	step("first sync done")
	// The case study landed, and the six current-state tables hold it.
	dsn := wh.DSN()
	graph := query(t, dsn, `SELECT segment_id, canonical_segment_id, triggering_event_type, triggering_event_id FROM main.id_graph_updates ORDER BY seq`)
	if len(graph) != 3 {
		t.Fatalf("id_graph_updates: %v", graph)
	}
	p1, p2 := graph[0][0], graph[1][0]
	wantRows(t, "id_graph_updates", graph,
		[]string{p1, p1, "page", "E1"}, []string{p2, p2, "page", "E3"}, []string{p2, p1, "identify", "E4"})
	wantRows(t, "external_id_mapping_updates",
		query(t, dsn, `SELECT external_id_type, external_id_value, segment_id FROM main.external_id_mapping_updates ORDER BY seq`),
		[]string{"anonymous_id", "5285", p1}, []string{"email", "jane@example.com", p1}, []string{"anonymous_id", "b50e", p2})
	wantRows(t, "id_graph", query(t, dsn, `SELECT segment_id, canonical_segment_id FROM main.id_graph ORDER BY segment_id = $1 DESC`, p1),
		[]string{p1, p1}, []string{p2, p1})
	wantRows(t, "profile_merges", query(t, dsn, `SELECT segment_id, canonical_segment_id FROM main.profile_merges ORDER BY segment_id = $1 DESC`, p1),
		[]string{p1, p1}, []string{p2, p1})
	wantRows(t, "external_id_mapping",
		query(t, dsn, `SELECT external_id_type, external_id_value, canonical_segment_id FROM main.external_id_mapping ORDER BY 1, 2`),
		[]string{"anonymous_id", "5285", p1}, []string{"anonymous_id", "b50e", p1}, []string{"email", "jane@example.com", p1})
	wantRows(t, "user_identifiers", query(t, dsn, `SELECT type, value, canonical_segment_id FROM main.user_identifiers ORDER BY 1, 2`),
		[]string{"anonymous_id", "5285", p1}, []string{"anonymous_id", "b50e", p1}, []string{"email", "jane@example.com", p1})
	wantRows(t, "profile_traits", query(t, dsn, `SELECT canonical_segment_id, email, merged_to FROM main.profile_traits ORDER BY canonical_segment_id = $1 DESC`, p1),
		[]string{p1, "jane@example.com", "<nil>"}, []string{p2, "<nil>", p1})
	wantRows(t, "user_traits", query(t, dsn, `SELECT canonical_segment_id, name, value FROM main.user_traits`),
		[]string{p1, "email", "jane@example.com"})
	wantRows(t, "event tables", query(t, dsn, `SELECT 'pages', count(*) FROM main.pages UNION ALL SELECT 'identifies', count(*) FROM main.identifies`),
		[]string{"pages", "2"}, []string{"identifies", "2"})

	step("views checked")
	// More events and sync now: only the new rows move.
	d.track(src.WriteKey,
		map[string]any{"type": "page", "messageId": "E5", "anonymousId": "c9", "name": "Blog"},
		map[string]any{"type": "identify", "messageId": "E6", "anonymousId": "c9", "userId": "u9",
			"traits": map[string]any{"secret_note": secretTrait}},
	)
	resolved(t, storeDSN, "main", 6)
	var second admin.Sync
	d.cliJSON("admin", "", &second, "sync", "now", id, "--wait")
	got := tableRows(second)
	for table, n := range map[string]int64{"id_graph_updates": 1, "external_id_mapping_updates": 2, "profile_traits_updates": 1, "pages": 1, "identifies": 1} {
		if got[table] != n {
			t.Errorf("second sync moved %d rows of %s, want %d (report %+v)", got[table], table, n, second)
		}
	}
	if second.Status != "success" || second.IdentityRows == 0 || second.EventTypeRows != 2 {
		t.Errorf("second sync report: %+v", second)
	}
	wantRows(t, "the new profile's trait", query(t, dsn, `SELECT count(*) FROM main.profile_traits WHERE secret_note = $1`, secretTrait), []string{"1"})
	// Both reports are kept: the second sync did not overwrite the first.
	if syncs := d.syncs(id); len(syncs) != 2 || syncs[0].ID != second.ID || syncs[1].ID != first.ID {
		t.Errorf("reports after sync now: %+v, want the second (%s) and the first (%s)", syncs, second.ID, first.ID)
	}

	step("second sync done")
	// An operator starts a backfill with the temporal CLI alone; it lands
	// the same rows again (merged by id) and records its report.
	input := fmt.Sprintf(`{"warehouse_id":%q,"from":%q,"to":%q}`, id,
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if out, err := d.temporalCLI("workflow", "start", "--type", "BackfillWorkflow", "--task-queue", "profilesync",
		"--workflow-id", "backfill-by-hand", "--input", input); err != nil {
		t.Fatalf("starting a backfill with the temporal CLI: %v\n%s", err, out)
	}
	waitFor(t, time.Minute, "the backfill's report", func(context.Context) (bool, error) {
		for _, r := range d.syncs(id) {
			if strings.HasPrefix(r.ID, "backfill-by-hand~") && r.Status != "running" {
				if r.Kind != "backfill" || r.Status != "success" || r.EventTypeRows != 6 {
					return false, fmt.Errorf("backfill report: %+v", r)
				}
				return true, nil
			}
		}
		return false, nil
	})
	wantRows(t, "event rows after the backfill (merged by id)", query(t, dsn, `SELECT count(*), count(DISTINCT id) FROM main.pages`), []string{"3", "3"})
	// Disable: the schedule pauses, sync now is refused, no run starts.
	d.cliJSON("admin", "", &st, "warehouse", "disable", id)
	if st.Status.State != "disabled" || !st.Paused {
		t.Fatalf("after disable: %+v paused=%v", st.Status, st.Paused)
	}
	if r := d.cli("admin", "", "sync", "now", id); r.code != 1 || !strings.Contains(r.stderr, "HTTP 409") {
		t.Fatalf("sync now while disabled: exit %d %s", r.code, r.stderr)
	}
	runs := len(d.syncs(id))
	time.Sleep(3 * time.Second)
	if n := len(d.syncs(id)); n != runs {
		t.Fatalf("a sync ran while disabled: %d reports, were %d", n, runs)
	}
	reports := d.cli("viewer", "", "--json", "syncs", "list", id).stdout

	step("disabled")
	// Enable resumes the schedule; delete is refused until disabled again.
	d.cliJSON("admin", "", &st, "warehouse", "enable", id)
	if st.Status.State != "enabled" || st.Paused || len(st.NextSyncs) == 0 {
		t.Fatalf("after enable: %+v paused=%v next=%v", st.Status, st.Paused, st.NextSyncs)
	}
	if r := d.cli("admin", "", "warehouse", "delete", id); r.code != 1 || !strings.Contains(r.stderr, "HTTP 409") {
		t.Fatalf("delete while enabled: exit %d %s", r.code, r.stderr)
	}
	d.cliJSON("admin", "", &st, "warehouse", "disable", id)
	if r := d.cli("admin", "", "warehouse", "delete", id); r.code != 0 {
		t.Fatalf("delete while disabled: exit %d %s%s", r.code, r.stdout, r.stderr)
	}

	step("deleted")
	// The credentials and the schedule are gone.
	stor, err := store.Open(context.Background(), storeDSN, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stor.Close()
	if _, err := stor.GetWarehouse(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("warehouse record after delete: err %v", err)
	}
	wantRows(t, "credential rows after delete", query(t, storeDSN, `SELECT count(*) FROM warehouse_credentials`), []string{"0"})
	if out, err := d.temporalCLI("schedule", "describe", "--schedule-id", "sync-"+id); err == nil {
		t.Errorf("the sync schedule survived the delete:\n%s", out)
	}

	step("checked deletion")
	// Secrets stay secret: no workflow history, log line or report holds
	// the password or the trait value.
	wfList, err := d.temporalCLI("workflow", "list", "--limit", "1000", "-o", "json")
	if err != nil {
		t.Fatalf("listing workflows: %v\n%s", err, wfList)
	}
	var ids []string
	for _, f := range strings.Split(wfList, "\"workflowId\":")[1:] {
		q := strings.Split(f, "\"")
		if len(q) > 1 {
			ids = append(ids, q[1])
		}
	}
	if len(ids) < 3 {
		t.Fatalf("found only %d workflows: %s", len(ids), wfList)
	}
	var histories strings.Builder
	for _, wf := range ids {
		out, err := d.temporalCLI("workflow", "show", "--workflow-id", wf, "-o", "json")
		if err != nil {
			t.Fatalf("showing workflow %s: %v\n%s", wf, err, out)
		}
		histories.WriteString(out)
	}
	if !strings.Contains(strings.ToUpper(histories.String()), "ACTIVITY_TASK_COMPLETED") {
		t.Fatalf("workflow histories look empty")
	}
	syncRuns := query(t, storeDSN, `SELECT id, status, tables::text, errors::text FROM sync_runs`)
	for name, text := range map[string]string{
		"workflow histories":   histories.String(),
		"worker logs":          d.worker.logs.String(),
		"sync reports (CLI)":   reports,
		"sync reports (store)": fmtRows(toAny(syncRuns)),
	} {
		for _, secret := range []string{wh.Password, secretTrait} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain a secret (%q)", name, secret[:6]+"…")
			}
		}
	}
}

func toAny(rows [][]string) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		for _, v := range r {
			out[i] = append(out[i], v)
		}
	}
	return out
}

// resolved waits until the store resolved n events of a space.
func resolved(t *testing.T, dsn, space string, n int64) {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d resolved events", n), func(ctx context.Context) (bool, error) {
		p, err := st.ResolverPosition(ctx, space)
		if err != nil {
			return false, err
		}
		evs, err := st.Events(ctx, space, 0, p.Pos, int(n)+1)
		return int64(len(evs)) >= n, err
	})
}
