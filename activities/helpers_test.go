package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/resolver"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// t0 is when the test events happen; the activities' clock is a day later.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	spaceID  = "main"
	sourceID = "web"
)

// masterKey encrypts warehouse credentials in the test store.
var masterKey = bytes.Repeat([]byte{7}, 32)

// quietLogger discards the logs of the code under test.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testStores remembers the database of each test store: the PostgreSQL
// warehouses of a test live in schemas of the same database, which saves
// creating and dropping databases.
var testStores sync.Map // store.Store → DSN

// openStore opens a fresh PostgreSQL store with a space and a source.
func openStore(t testing.TB) store.Store {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	st, err := store.Open(t.Context(), dsn, store.Options{MasterKey: masterKey})
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	testStores.Store(st, dsn)
	t.Cleanup(func() {
		testStores.Delete(st)
		st.Close()
	})
	ctx := t.Context()
	if err := st.CreateSpace(ctx, store.Space{ID: spaceID, Name: "Main"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSource(ctx, store.Source{ID: sourceID, SpaceID: spaceID, Name: "Web Site", Slug: "web_site"}, "key"); err != nil {
		t.Fatal(err)
	}
	return st
}

// event builds a normalized inbox event as the ingest API stores it.
func event(n int, typ string, fields map[string]any) store.InboxEvent {
	at := t0.Add(time.Duration(n) * time.Second)
	msg := map[string]any{
		"type":              typ,
		"messageId":         fmt.Sprintf("m%d", n),
		"receivedAt":        at.Format(time.RFC3339Nano),
		"timestamp":         at.Format(time.RFC3339Nano),
		"sentAt":            at.Add(-time.Second).Format(time.RFC3339Nano),
		"originalTimestamp": at.Add(-2 * time.Second).Format(time.RFC3339Nano),
	}
	for k, v := range fields {
		msg[k] = v
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return store.InboxEvent{SpaceID: spaceID, SourceID: sourceID, MessageID: msg["messageId"].(string),
		Type: typ, ReceivedAt: at, Timestamp: at, Payload: payload}
}

// ingest appends events and resolves them.
func ingest(t *testing.T, st store.Store, evs ...store.InboxEvent) {
	t.Helper()
	if _, err := st.Append(t.Context(), evs, 24*time.Hour); err != nil {
		t.Fatalf("appending: %v", err)
	}
	r := resolver.New(st, spaceID, resolver.Options{Logger: quietLogger(), BatchSize: 7})
	for {
		n, err := r.Step(t.Context())
		if err != nil {
			t.Fatalf("resolving: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// caseStudy are the four events of the docs' case study
// (segment-semantics §2.3).
func caseStudy() []store.InboxEvent {
	return []store.InboxEvent{
		event(1, "page", map[string]any{"anonymousId": "5285", "name": "Home"}),
		event(2, "identify", map[string]any{"anonymousId": "5285", "traits": map[string]any{"email": "jane@example.com"}}),
		event(3, "page", map[string]any{"anonymousId": "b50e", "name": "Pricing"}),
		event(4, "identify", map[string]any{"anonymousId": "b50e", "traits": map[string]any{"email": "jane@example.com"}}),
	}
}

// stream returns n deterministic events numbered from first: anonymous
// browsing, identifies with traits, merges, tracks, groups and aliases.
func stream(first, n int) []store.InboxEvent {
	var out []store.InboxEvent
	for i := first; i < first+n; i++ {
		anon := fmt.Sprintf("a%d", i%17)
		switch i % 6 {
		case 0:
			out = append(out, event(i, "identify", map[string]any{"anonymousId": anon, "userId": fmt.Sprintf("u%d", i%7),
				"traits": map[string]any{"plan": fmt.Sprintf("p%d", i%3), "logins": i, "firstName": "N" + anon, "address": map[string]any{"city": "c"}}}))
		case 1:
			out = append(out, event(i, "track", map[string]any{"anonymousId": anon, "event": "Order Completed", "properties": map[string]any{"total": i}}))
		case 2:
			out = append(out, event(i, "identify", map[string]any{"anonymousId": anon, "traits": map[string]any{"email": fmt.Sprintf("e%d@x.com", i%5)}}))
		case 3:
			out = append(out, event(i, "group", map[string]any{"anonymousId": anon, "groupId": fmt.Sprintf("g%d", i%4)}))
		case 4:
			out = append(out, event(i, "screen", map[string]any{"userId": fmt.Sprintf("u%d", i%7), "name": "Settings"}))
		default:
			out = append(out, event(i, "alias", map[string]any{"userId": fmt.Sprintf("u%d", i%7), "previousId": anon}))
		}
	}
	return out
}

// warehouseKind is a kind of test warehouse.
type warehouseKind struct {
	name string
	// create adds a warehouse record (and credentials) to the store.
	create func(t *testing.T, st store.Store, id string)
}

// pgSettings are the settings of a PostgreSQL warehouse in the database of
// dsn.
func pgSettings(t testing.TB, dsn string) map[string]string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"host":     u.Hostname(),
		"port":     u.Port(),
		"user":     u.User.Username(),
		"database": strings.TrimPrefix(u.Path, "/"),
		"sslmode":  u.Query().Get("sslmode"),
	}
}

func kinds() []warehouseKind {
	return []warehouseKind{
		{"postgres", func(t *testing.T, st store.Store, id string) {
			dsn, ok := testStores.Load(st)
			if !ok {
				t.Fatal("the store was not opened by openStore")
			}
			settings := pgSettings(t, dsn.(string))
			settings["schema"] = "profiles_" + id
			createWarehouse(t, st, id, "postgres", settings, "pg-secret-not-checked-by-trust")
		}},
		{"duckdb", func(t *testing.T, st store.Store, id string) {
			createWarehouse(t, st, id, "duckdb", map[string]string{
				"path": filepath.Join(t.TempDir(), id+".duckdb"), "schema": "profiles",
			}, "")
		}},
	}
}

func createWarehouse(t testing.TB, st store.Store, id, typ string, settings map[string]string, secret string) {
	t.Helper()
	err := st.CreateWarehouse(t.Context(), store.Warehouse{
		ID: id, SpaceID: spaceID, Name: id, Type: typ, Config: settings,
		State: workflows.StateTesting, Schedule: workflows.DefaultSchedule,
	})
	if err != nil {
		t.Fatalf("creating warehouse: %v", err)
	}
	if secret != "" {
		if err := st.PutCredentials(t.Context(), id, []byte(secret)); err != nil {
			t.Fatalf("storing credentials: %v", err)
		}
	}
}

// newActivities returns activities on st with a fixed clock.
func newActivities(st store.Store) *Activities {
	return &Activities{
		Store:     st,
		TaskQueue: "profilesync-test",
		Logger:    quietLogger(),
		Now:       func() time.Time { return t0.Add(24 * time.Hour) },
	}
}

// harness runs activities in Temporal's test activity environment.
type harness struct {
	t     *testing.T
	suite testsuite.WorkflowTestSuite
	acts  *Activities

	mu         sync.Mutex
	heartbeats []json.RawMessage // details of every heartbeat, in order
}

func newHarness(t *testing.T, acts *Activities) *harness {
	h := &harness{t: t, acts: acts}
	h.suite.SetLogger(log.NewStructuredLogger(quietLogger()))
	return h
}

// env returns a fresh activity environment: one attempt of an activity.
// details, if not nil, are the heartbeat details of an earlier attempt.
func (h *harness) env(details any) *testsuite.TestActivityEnvironment {
	env := h.suite.NewTestActivityEnvironment()
	env.RegisterActivity(h.acts)
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var raw json.RawMessage
		if d.HasValues() {
			if err := d.Get(&raw); err != nil {
				h.t.Errorf("decoding heartbeat details: %v", err)
			}
		}
		h.mu.Lock()
		h.heartbeats = append(h.heartbeats, raw)
		h.mu.Unlock()
	})
	if details != nil {
		env.SetHeartbeatDetails(details)
	}
	return env
}

// run executes an activity (by method value) and decodes its result.
func run[T any](h *harness, fn any, in any) (T, error) {
	var out T
	val, err := h.env(nil).ExecuteActivity(fn, in)
	if err != nil {
		return out, err
	}
	if val != nil && val.HasValue() {
		if err := val.Get(&out); err != nil {
			h.t.Fatalf("decoding result: %v", err)
		}
	}
	return out, nil
}

// must executes an activity that must succeed.
func must[T any](h *harness, fn any, in any) T {
	h.t.Helper()
	out, err := run[T](h, fn, in)
	if err != nil {
		h.t.Fatalf("activity failed: %v", err)
	}
	return out
}

// lastHeartbeat returns the details of the latest heartbeat.
func (h *harness) lastHeartbeat() json.RawMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.heartbeats) - 1; i >= 0; i-- {
		if h.heartbeats[i] != nil {
			return h.heartbeats[i]
		}
	}
	return nil
}

// syncOutputs are the results of one pass of sync activities.
type syncOutputs struct {
	plan        workflows.Plan
	identity    map[string]workflows.LoadOutput
	events      workflows.LoadOutput
	materialize workflows.LoadOutput
}

// syncPass runs what SyncWorkflow runs: PlanSync → PrepareSchema →
// LoadIdentity ×3 → LoadEvents → Materialize.
func (h *harness) syncPass(warehouseID string) syncOutputs {
	h.t.Helper()
	a := h.acts
	var out syncOutputs
	out.plan = must[workflows.Plan](h, a.PlanSync, workflows.PlanInput{WarehouseID: warehouseID, EventsLookback: workflows.DefaultEventsLookback})
	must[struct{}](h, a.PrepareSchema, workflows.WarehouseRef{WarehouseID: warehouseID})
	out.identity = map[string]workflows.LoadOutput{}
	for _, table := range workflows.IdentityTables() {
		out.identity[table] = must[workflows.LoadOutput](h, a.LoadIdentity, workflows.LoadInput{WarehouseID: warehouseID, Table: table, UptoSeq: out.plan.UptoSeq})
	}
	out.events = must[workflows.LoadOutput](h, a.LoadEvents, workflows.LoadEventsInput{WarehouseID: warehouseID, After: out.plan.EventsAfter, UptoPos: out.plan.UptoPos})
	out.materialize = must[workflows.LoadOutput](h, a.Materialize, workflows.MaterializeInput{WarehouseID: warehouseID, UptoSeq: out.plan.UptoSeq})
	return out
}

// queryer is what both adapters offer tests: a query and qualified names.
type queryer interface {
	Query(ctx context.Context, q string) ([][]any, error)
	QualifiedName(table string) string
}

// testDB is a warehouse opened by a test.
type testDB interface {
	adapters.Warehouse
	queryer
	Dialect() adapters.Dialect
}

// warehouseDB opens a second handle on a warehouse, for queries.
func warehouseDB(t *testing.T, st store.Store, id string) testDB {
	t.Helper()
	rec, err := st.GetWarehouse(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := st.Credentials(t.Context(), id)
	w, err := OpenAdapter(t.Context(), adapters.Config{Type: rec.Type, Settings: rec.Config, Secret: string(secret)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w.(testDB)
}

// query returns the rows of a query as text: NULL as "∅", times in RFC 3339
// UTC.
func query(t *testing.T, db queryer, q string) [][]string {
	t.Helper()
	rows, err := db.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = text(v)
		}
	}
	return out
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "∅"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// count returns the rows of a table.
func count(t *testing.T, db queryer, table string) int64 {
	t.Helper()
	rows := query(t, db, "SELECT count(*) FROM "+db.QualifiedName(table))
	var n int64
	fmt.Sscan(rows[0][0], &n)
	return n
}

// ids returns the sorted ids of a table and fails on a duplicate.
func ids(t *testing.T, db queryer, table string) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, r := range query(t, db, "SELECT id FROM "+db.QualifiedName(table)) {
		if seen[r[0]] {
			t.Errorf("%s: duplicate id %s", table, r[0])
		}
		seen[r[0]] = true
		out = append(out, r[0])
	}
	sort.Strings(out)
	return out
}

// loadedTables are the landed tables the tests compare.
func loadedTables() []string {
	return append(workflows.IdentityTables(), adapters.EventTypeTables()...)
}

func TestMain(m *testing.M) {
	// The adapters log through the default logger; the tests that check
	// logs capture it themselves.
	slog.SetDefault(quietLogger())
	os.Exit(m.Run())
}
