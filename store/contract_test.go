package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilesync/profilesync/identity"
)

// t0 is the tests' reference time, at microsecond precision like the store.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// runContract is the behaviour every Store must have. Each subtest gets a
// fresh database from b.
func runContract(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend)
	}{
		{"SpacesAndSources", testSpacesAndSources},
		{"AppendOrderAndRead", testAppendOrderAndRead},
		{"AppendDedupe", testAppendDedupe},
		{"AppendDedupeWindow", testAppendDedupeWindow},
		{"AppendMultiSpace", testAppendMultiSpace},
		{"ReadInboxPaging", testReadInboxPaging},
		{"CommitBatchSeqOrder", testCommitBatchSeqOrder},
		{"CommitBatchConflict", testCommitBatchConflict},
		{"CommitBatchRetry", testCommitBatchRetry},
		{"ScanIdentity", testScanIdentity},
		{"LatestTraits", testLatestTraits},
		{"RangeReaders", testRangeReaders},
		{"EventPosAt", testEventPosAt},
		{"Warehouses", testWarehouses},
		{"Credentials", testCredentials},
		{"WarehouseSettings", testWarehouseSettings},
		{"SyncRuns", testSyncRuns},
		{"Migrations", testMigrations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// fresh opens a store on a new database with a fixed clock.
func fresh(t *testing.T, b backend) Store {
	t.Helper()
	return openStore(t, b.dsn(t), Options{Now: func() time.Time { return t0 }})
}

// mustSpace creates a space and a source "<space>_src" with write key
// "<space>_key".
func mustSpace(t *testing.T, s Store, id string) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateSpace(ctx, Space{ID: id, Name: id}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSource(ctx, Source{ID: id + "_src", SpaceID: id, Name: "src", Slug: "src"}, id+"_key"); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func testSpacesAndSources(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.dsn(t)
	s := openStore(t, dsn, Options{Now: func() time.Time { return t0 }})
	rules := identity.Rules{
		IDTypes:        []identity.IDType{{Name: "email", Limit: 5, Window: identity.WindowAnnually, Priority: 2}},
		Blocked:        []identity.BlockRule{{Type: "email", Regex: ".*@example\\.com"}},
		MaxIdentifiers: 50,
	}
	if err := s.CreateSpace(ctx, Space{ID: "beta", Name: "Beta", Rules: rules}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSpace(ctx, Space{ID: "alpha", Name: "Alpha", CreatedAt: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateSpace(ctx, Space{ID: "alpha"}), ErrConflict)

	got, err := s.GetSpace(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Space{ID: "beta", Name: "Beta", Rules: rules, CreatedAt: t0}); !reflect.DeepEqual(got, want) {
		t.Errorf("GetSpace = %+v, want %+v", got, want)
	}
	_, err = s.GetSpace(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	rules.MaxMerges = 7
	if err := s.UpdateSpaceRules(ctx, "beta", rules); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.UpdateSpaceRules(ctx, "nope", rules), ErrNotFound)
	spaces, err := s.ListSpaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(spaces) != 2 || spaces[0].ID != "alpha" || !spaces[0].CreatedAt.Equal(t0.Add(-time.Hour)) ||
		spaces[1].ID != "beta" || spaces[1].Rules.MaxMerges != 7 {
		t.Errorf("ListSpaces = %+v", spaces)
	}

	src := Source{ID: "web", SpaceID: "beta", Name: "Web", Slug: "web"}
	if err := s.CreateSource(ctx, src, "wk_secret_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSource(ctx, Source{ID: "ios", SpaceID: "beta", Name: "iOS", Slug: "ios"}, "wk_secret_2"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateSource(ctx, Source{ID: "web", SpaceID: "beta"}, "wk_other"), ErrConflict)
	wantErr(t, s.CreateSource(ctx, Source{ID: "android", SpaceID: "beta"}, "wk_secret_1"), ErrConflict)
	wantErr(t, s.CreateSource(ctx, Source{ID: "orphan", SpaceID: "nope"}, "wk_orphan"), ErrNotFound)

	src.CreatedAt = t0
	got2, err := s.SourceByWriteKey(ctx, "wk_secret_1")
	if err != nil || got2 != src {
		t.Errorf("SourceByWriteKey = %+v, %v; want %+v", got2, err, src)
	}
	_, err = s.SourceByWriteKey(ctx, "wk_unknown")
	wantErr(t, err, ErrNotFound)
	if strings.Contains(err.Error(), "wk_unknown") {
		t.Errorf("error %q quotes the write key", err)
	}
	if got2, err := s.GetSource(ctx, "web"); err != nil || got2 != src {
		t.Errorf("GetSource = %+v, %v", got2, err)
	}
	_, err = s.GetSource(ctx, "nope")
	wantErr(t, err, ErrNotFound)
	srcs, err := s.ListSources(ctx, "beta")
	if err != nil || len(srcs) != 2 || srcs[0].ID != "ios" || srcs[1].ID != "web" {
		t.Errorf("ListSources = %+v, %v", srcs, err)
	}

	raw := b.raw(t, dsn)
	if n := count(t, raw, "SELECT count(*) FROM sources WHERE write_key_sha256 = $1", hashWriteKey("wk_secret_1")); n != 1 {
		t.Errorf("sources with the key's hash = %d, want 1", n)
	}
	if n := count(t, raw, "SELECT count(*) FROM sources WHERE write_key_sha256 LIKE '%secret%'"); n != 0 {
		t.Errorf("a write key is stored in clear")
	}
}

func testWarehouses(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	mustSpace(t, s, "sp1")
	mustSpace(t, s, "sp2")
	w := Warehouse{ID: "wh1", SpaceID: "sp1", Name: "main", Type: "postgres",
		Config: map[string]string{"host": "db", "port": "5432"}, State: "setup", Schedule: "1h"}
	if err := s.CreateWarehouse(ctx, w); err != nil {
		t.Fatal(err)
	}
	w.CreatedAt, w.UpdatedAt = t0, t0
	if got, err := s.GetWarehouse(ctx, "wh1"); err != nil || !reflect.DeepEqual(got, w) {
		t.Errorf("GetWarehouse = %+v, %v; want %+v", got, err, w)
	}
	wantErr(t, s.CreateWarehouse(ctx, Warehouse{ID: "wh1", SpaceID: "sp1", Name: "other", Config: map[string]string{}}), ErrConflict)
	wantErr(t, s.CreateWarehouse(ctx, Warehouse{ID: "wh9", SpaceID: "sp1", Name: "main"}), ErrConflict)
	wantErr(t, s.CreateWarehouse(ctx, Warehouse{ID: "wh8", SpaceID: "nope", Name: "x"}), ErrNotFound)
	if err := s.CreateWarehouse(ctx, Warehouse{ID: "wh2", SpaceID: "sp2", Name: "main", Type: "duckdb"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetWarehouse(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	if all, err := s.ListWarehouses(ctx, ""); err != nil || len(all) != 2 {
		t.Errorf("ListWarehouses(all) = %+v, %v", all, err)
	}
	if one, err := s.ListWarehouses(ctx, "sp2"); err != nil || len(one) != 1 || one[0].ID != "wh2" || one[0].Config == nil {
		t.Errorf("ListWarehouses(sp2) = %+v, %v", one, err)
	}

	w.Name, w.State, w.Schedule = "renamed", "enabled", "15m"
	w.Config = map[string]string{"host": "db2"}
	w.UpdatedAt = t0.Add(time.Minute)
	w.SpaceID, w.Type = "sp2", "snowflake" // not mutable: ignored
	if err := s.UpdateWarehouse(ctx, w); err != nil {
		t.Fatal(err)
	}
	w.SpaceID, w.Type = "sp1", "postgres"
	if got, err := s.GetWarehouse(ctx, "wh1"); err != nil || !reflect.DeepEqual(got, w) {
		t.Errorf("after update GetWarehouse = %+v, %v; want %+v", got, err, w)
	}
	wantErr(t, s.UpdateWarehouse(ctx, Warehouse{ID: "nope"}), ErrNotFound)
	if err := s.CreateWarehouse(ctx, Warehouse{ID: "wh3", SpaceID: "sp1", Name: "spare"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.UpdateWarehouse(ctx, Warehouse{ID: "wh3", Name: "renamed"}), ErrConflict) // name taken in sp1
	if err := s.DeleteWarehouse(ctx, "wh1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetWarehouse(ctx, "wh1")
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.DeleteWarehouse(ctx, "wh1"), ErrNotFound)
}

func testCredentials(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.dsn(t)
	s := openStore(t, dsn, Options{})
	mustSpace(t, s, "sp")
	for _, id := range []string{"wh1", "wh2"} {
		if err := s.CreateWarehouse(ctx, Warehouse{ID: id, SpaceID: "sp", Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	const plaintext = "PLAINTEXT-password-9f3a1c"
	secret := []byte(`{"password":"` + plaintext + `"}`)

	_, err := s.Credentials(ctx, "wh1")
	wantErr(t, err, ErrNotFound)
	if err := s.PutCredentials(ctx, "wh1", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCredentials(ctx, "wh1", secret); err != nil { // replaces
		t.Fatal(err)
	}
	if err := s.PutCredentials(ctx, "wh2", secret); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Credentials(ctx, "wh1"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Credentials = %q, %v", got, err)
	}
	wantErr(t, s.PutCredentials(ctx, "nope", secret), ErrNotFound)

	// The same secret twice gives two different ciphertexts (random nonce).
	raw := b.raw(t, dsn)
	if n := count(t, raw, `SELECT count(DISTINCT ciphertext) FROM warehouse_credentials`); n != 2 {
		t.Errorf("distinct ciphertexts = %d, want 2", n)
	}

	// A store with another key, or none, refuses clearly and leaks nothing.
	otherKey := []byte("ffffffffffffffffffffffffffffffff")
	other := openStore(t, dsn, Options{MasterKey: otherKey})
	_, err = other.Credentials(ctx, "wh1")
	wantErr(t, err, ErrWrongKey)
	for _, leak := range []string{plaintext, testKey, string(otherKey)} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q leaks a secret", err)
		}
	}
	none, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	_, err = none.Credentials(ctx, "wh1")
	wantErr(t, err, ErrNoMasterKey)
	wantErr(t, none.PutCredentials(ctx, "wh1", secret), ErrNoMasterKey)
	if _, err := Open(ctx, dsn, Options{MasterKey: []byte("short")}); err == nil {
		t.Error("Open accepted a 5-byte master key")
	}

	// Deleting a warehouse deletes its ciphertext.
	if err := s.DeleteWarehouse(ctx, "wh1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, raw, "SELECT count(*) FROM warehouse_credentials WHERE warehouse_id = $1", "wh1"); n != 0 {
		t.Errorf("%d credential rows left after deleting the warehouse", n)
	}
	_, err = s.Credentials(ctx, "wh1")
	wantErr(t, err, ErrNotFound)

	// The plaintext is nowhere in the stored bytes.
	if b.name == "sqlite" {
		path := strings.TrimPrefix(dsn, "sqlite:")
		for _, f := range []string{path, path + "-wal"} {
			data, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(plaintext)) {
				t.Errorf("%s contains the plaintext", filepath.Base(f))
			}
		}
	}
	var sealed []byte
	if err := raw.QueryRow("SELECT ciphertext FROM warehouse_credentials WHERE warehouse_id = $1", "wh2").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(plaintext)) || len(sealed) < len(secret)+16 {
		t.Errorf("stored ciphertext %x is not sealed", sealed)
	}
	if b.name == "postgres" {
		if data, ok := pgRelationBytes(t, raw, "warehouse_credentials"); ok {
			if !bytes.Contains(data, sealed) {
				t.Error("the heap file read does not hold the stored ciphertext")
			}
			if bytes.Contains(data, []byte(plaintext)) {
				t.Error("the warehouse_credentials heap file contains the plaintext")
			}
		}
	}
}

// pgRelationBytes reads a table's heap file after a checkpoint, when the
// server is local and the test may read its data directory; ok is false
// otherwise.
func pgRelationBytes(t *testing.T, db *sql.DB, table string) (data []byte, ok bool) {
	t.Helper()
	var dir, rel string
	if _, err := db.Exec("CHECKPOINT"); err != nil {
		t.Logf("not reading the heap file: %v", err)
		return nil, false
	}
	if err := db.QueryRow("SELECT current_setting('data_directory'), pg_relation_filepath($1)", table).Scan(&dir, &rel); err != nil {
		t.Logf("not reading the heap file: %v", err)
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Logf("not reading the heap file: %v", err)
		return nil, false
	}
	return data, true
}

func testSyncRuns(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	run := func(id string, started time.Time) SyncRun {
		return SyncRun{ID: id, WarehouseID: "wh1", Kind: "sync", Status: SyncRunning, StartedAt: started}
	}
	for i, id := range []string{"r2", "r1", "r3"} {
		// r1 oldest, r2 middle, r3 newest
		started := map[string]time.Time{"r1": t0, "r2": t0.Add(time.Hour), "r3": t0.Add(2 * time.Hour)}[id]
		if err := s.RecordSyncRun(ctx, run(id, started)); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if err := s.RecordSyncRun(ctx, SyncRun{ID: "other", WarehouseID: "wh2", StartedAt: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	done := SyncRun{
		ID: "r2", WarehouseID: "wh1", Kind: "sync", Status: SyncPartialSuccess,
		StartedAt: t0.Add(time.Hour), Duration: 93*time.Second + 250*time.Millisecond, Rows: 1200,
		Tables: []TableResult{
			{Table: "id_graph_updates", Group: GroupIdentity, Rows: 1000},
			{Table: "order_completed", Group: GroupEvent, Rows: 200, Error: "column too wide"},
		},
		Errors: []string{"order_completed: column too wide"},
	}
	if err := s.RecordSyncRun(ctx, done); err != nil { // upsert
		t.Fatal(err)
	}
	if got, err := s.GetSyncRun(ctx, "r2"); err != nil || !reflect.DeepEqual(got, done) {
		t.Errorf("GetSyncRun = %+v, %v; want %+v", got, err, done)
	}
	_, err := s.GetSyncRun(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	list, err := s.ListSyncRuns(ctx, "wh1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != "[r3 r2 r1]" {
		t.Errorf("ListSyncRuns ids = %v, want newest first [r3 r2 r1]", ids)
	}
	if list, _ := s.ListSyncRuns(ctx, "wh1", 2); len(list) != 2 || list[0].ID != "r3" {
		t.Errorf("ListSyncRuns(limit 2) = %+v", list)
	}
}

// logCounter counts log records with a given message.
type logCounter struct {
	mu  sync.Mutex
	msg string
	n   int
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Message == c.msg {
		c.n++
	}
	return nil
}
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCounter) WithGroup(string) slog.Handler      { return c }

func testMigrations(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.dsn(t)
	dialect := b.name
	ms, err := loadMigrations(dialect)
	if err != nil || len(ms) == 0 {
		t.Fatalf("loadMigrations = %d, %v", len(ms), err)
	}

	// Two stores opening a new database at once both succeed, and each
	// migration runs once.
	first := &logCounter{msg: "applied migration"}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			s, err := Open(ctx, dsn, Options{Logger: slog.New(first)})
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	if first.n != len(ms) {
		t.Errorf("first opens applied %d migrations, want %d", first.n, len(ms))
	}

	again := &logCounter{msg: "applied migration"}
	s := openStore(t, dsn, Options{Logger: slog.New(again)})
	if again.n != 0 {
		t.Errorf("reopen applied %d migrations, want 0", again.n)
	}
	raw := b.raw(t, dsn)
	if n := count(t, raw, "SELECT count(*) FROM schema_migrations"); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	if _, err := s.ListSpaces(ctx); err != nil {
		t.Errorf("store unusable after reopen: %v", err)
	}
}
