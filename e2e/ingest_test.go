package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/store"
)

const writeKey = "wk_e2e_test"

// spacesFile writes a spaces file with space "main" and source "web".
func spacesFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spaces.yaml")
	body := `spaces:
  - id: main
    name: Main
    rules: {recommended_blocked: true}
    sources:
      - {id: web, name: Web, slug: web, write_key: ` + writeKey + `}
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// resolvedUpTo waits until the resolver of space main committed every event
// of the inbox.
func resolvedUpTo(t *testing.T, st store.Store, timeout time.Duration) store.Position {
	t.Helper()
	var pos store.Position
	waitFor(t, timeout, "the resolver to reach the end of the inbox", func(ctx context.Context) (bool, error) {
		p, err := st.ResolverPosition(ctx, "main")
		if err != nil {
			return false, err
		}
		next, err := st.ReadInbox(ctx, "main", p.Pos, 1)
		if err != nil {
			return false, err
		}
		pos = p
		return len(next) == 0 && p.Pos > 0, nil
	})
	return pos
}

// TestAnalyticsNodeClient sends events with the real @segment/analytics-node
// client to the running worker and finds them resolved in the store.
func TestAnalyticsNodeClient(t *testing.T) {
	node, _ := testenv.Node(t)
	dsn := testenv.PostgresDSN(t)
	w := startWorker(t, freeAddr(t), "PROFILESYNC_STORE_DSN="+dsn,
		"PROFILESYNC_SPACES_FILE="+spacesFile(t), "PROFILESYNC_TEMPORAL=false")

	script := filepath.Join(testenv.RepoRoot(t), "ingest", "testdata", "analytics-node", "send.cjs")
	cmd := exec.Command(node, script, "--host", "http://"+w.addr, "--write-key", writeKey, "--events", "40", "--prefix", "e2e")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("analytics-node client: %v\n%s\n%s", err, out, stderr.String())
	}
	var report struct {
		Sent []struct {
			Type, MessageID string
			UserID          *string `json:"userId"`
			AnonymousID     *string `json:"anonymousId"`
		}
		Failed   []any
		Statuses []int
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("client report: %v\n%s", err, out)
	}
	if len(report.Failed) > 0 || len(report.Sent) != 47 {
		t.Fatalf("client sent %d events, %d failed: %s", len(report.Sent), len(report.Failed), out)
	}

	st := openStore(t, dsn)
	pos := resolvedUpTo(t, st, 30*time.Second)
	ctx := context.Background()
	events, err := st.Events(ctx, "main", 0, pos.Pos, 1000)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.StoredEvent{}
	for _, e := range events {
		byID[e.MessageID] = e
	}
	if len(events) != len(report.Sent) {
		t.Errorf("store holds %d events, the client sent %d", len(events), len(report.Sent))
	}
	profile := ""
	for _, s := range report.Sent {
		e, ok := byID[s.MessageID]
		if !ok {
			t.Errorf("event %s (%s) not in the store", s.MessageID, s.Type)
			continue
		}
		if e.Type != s.Type || e.SourceID != "web" {
			t.Errorf("event %s stored as type %s source %s, sent as %s", s.MessageID, e.Type, e.SourceID, s.Type)
		}
		if e.SegmentID == "" {
			t.Errorf("event %s (%s) not resolved to a profile", s.MessageID, s.Type)
		}
		// Everything the script sends belongs to one user and one
		// anonymous id that the first identify tied together.
		if profile == "" {
			profile = e.SegmentID
		} else if e.SegmentID != profile {
			t.Errorf("event %s resolved to %s, want the user's profile %s", s.MessageID, e.SegmentID, profile)
		}
	}
	mappings, err := st.MappingUpdates(ctx, "main", 0, pos.LastSeq, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, m := range mappings {
		ids[m.Type+":"+m.Value] = m.SegmentID
	}
	for _, want := range []string{"user_id:e2e-user-1", "anonymous_id:e2e-anon-1", "email:e2e-ada@example.com", "group_id:e2e-org-1"} {
		if ids[want] != profile {
			t.Errorf("external id %s mapped to %q, want %s (all: %v)", want, ids[want], profile, ids)
		}
	}
	traits, err := st.LatestTraits(ctx, "main", []string{profile})
	if err != nil {
		t.Fatal(err)
	}
	if got := traits[profile]["name"].Value; got != "Ada Lovelace" {
		t.Errorf("trait name = %v, want Ada Lovelace (traits %v)", got, traits[profile])
	}
	if err := w.stop(); err != nil {
		t.Error(err)
	}
}

// crashBatch is one request of the crash test's clients.
type crashBatch struct {
	ids  []string
	body []byte
}

// crashBatches builds batches of events with a realistic mix: anonymous
// browsing, identifies that tie anonymous ids to users, and merges of a
// user's devices.
func crashBatches(n, size int) []crashBatch {
	var out []crashBatch
	for b := 0; b < n; b++ {
		var items []map[string]any
		var ids []string
		for i := 0; i < size; i++ {
			k := b*size + i
			id := fmt.Sprintf("crash-%d", k)
			anon := fmt.Sprintf("anon-%d", k%5000)
			item := map[string]any{"messageId": id, "anonymousId": anon}
			switch k % 10 {
			case 0, 1:
				item["type"] = "identify"
				item["userId"] = fmt.Sprintf("user-%d", k%5000%1700)
				item["traits"] = map[string]any{"email": fmt.Sprintf("u%d@example.com", k%5000%1700), "visits": k}
			case 2:
				item["type"] = "page"
				item["name"] = "Home"
			default:
				item["type"] = "track"
				item["event"] = "Product Viewed"
				item["properties"] = map[string]any{"sku": fmt.Sprintf("sku-%d", k%97), "price": float64(k%50) + 0.99}
			}
			items = append(items, item)
			ids = append(ids, id)
		}
		body, _ := json.Marshal(map[string]any{"batch": items, "writeKey": writeKey})
		out = append(out, crashBatch{ids: ids, body: body})
	}
	return out
}

// TestCrashDuringIngest kills the worker with SIGKILL while clients send a
// large ingest and the resolver commits. After a restart, and the clients
// resending what was not acknowledged (as Segment's libraries do), every
// event that was answered 200 is stored and resolved exactly once, and the
// change logs equal those of one uninterrupted resolution of the inbox.
func TestCrashDuringIngest(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	addr := freeAddr(t)
	env := []string{"PROFILESYNC_STORE_DSN=" + dsn, "PROFILESYNC_SPACES_FILE=" + spacesFile(t), "PROFILESYNC_TEMPORAL=false"}
	w := startWorker(t, addr, env...)

	batches := crashBatches(400, 100) // 40,000 events
	acked := make([]atomic.Bool, len(batches))
	var sent atomic.Int64
	send := func(ctx context.Context, i int) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.url("/v1/batch"), bytes.NewReader(batches[i].body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}

	// Four clients send until the worker dies.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batches) || ctx.Err() != nil {
					return
				}
				if send(ctx, i) {
					acked[i].Store(true)
				}
				sent.Add(1)
			}
		})
	}
	waitFor(t, 60*time.Second, "a third of the batches to be sent", func(context.Context) (bool, error) {
		return sent.Load() >= int64(len(batches)/3), nil
	})
	w.kill()
	cancel()
	wg.Wait()
	ackedBefore := 0
	for i := range acked {
		if acked[i].Load() {
			ackedBefore++
		}
	}
	if ackedBefore == 0 || ackedBefore == len(batches) {
		t.Fatalf("the crash came at a useless moment: %d of %d batches acknowledged", ackedBefore, len(batches))
	}
	t.Logf("killed the worker after %d batches were acknowledged", ackedBefore)

	// Restart; clients resend every batch not acknowledged.
	w = startWorker(t, addr, env...)
	for i := range batches {
		if !acked[i].Load() {
			if !send(context.Background(), i) {
				t.Fatalf("batch %d refused after restart", i)
			}
		}
	}
	st := openStore(t, dsn)
	pos := resolvedUpTo(t, st, 120*time.Second)
	if err := w.stop(); err != nil {
		t.Error(err)
	}

	// Every event once, every event resolved.
	ctx = context.Background()
	events, err := st.Events(ctx, "main", 0, pos.Pos, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range events {
		seen[e.MessageID]++
		if e.SegmentID == "" {
			t.Fatalf("event %s at position %d not resolved", e.MessageID, e.Pos)
		}
	}
	for _, b := range batches {
		for _, id := range b.ids {
			if seen[id] != 1 {
				t.Fatalf("event %s stored %d times, want exactly once", id, seen[id])
			}
		}
	}
	if len(events) != len(batches)*100 {
		t.Fatalf("store holds %d events, want %d", len(events), len(batches)*100)
	}

	// The change logs are those of one uninterrupted resolution of the inbox.
	space, err := st.GetSpace(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := identity.CompileRules(space.Rules)
	if err != nil {
		t.Fatal(err)
	}
	engine := identity.NewEngine(rules)
	var wantGraph, wantMappings []string
	inbox, err := st.ReadInbox(ctx, "main", 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inbox {
		ev, err := identity.ParseEvent(in.Payload)
		if err != nil {
			t.Fatal(err)
		}
		ev.Pos, ev.SourceID = in.Pos, in.SourceID
		res := engine.Resolve(ev)
		for _, g := range res.Graph {
			wantGraph = append(wantGraph, g.ID+" "+g.SegmentID+">"+g.CanonicalSegmentID)
		}
		for _, m := range res.Mappings {
			wantMappings = append(wantMappings, m.ID+" "+m.Type+":"+m.Value+">"+m.SegmentID)
		}
	}
	graph, err := st.GraphUpdates(ctx, "main", 0, pos.LastSeq, 10_000_000)
	if err != nil {
		t.Fatal(err)
	}
	mappings, err := st.MappingUpdates(ctx, "main", 0, pos.LastSeq, 10_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var gotGraph, gotMappings []string
	for _, g := range graph {
		gotGraph = append(gotGraph, g.ID+" "+g.SegmentID+">"+g.CanonicalSegmentID)
	}
	for _, m := range mappings {
		gotMappings = append(gotMappings, m.ID+" "+m.Type+":"+m.Value+">"+m.SegmentID)
	}
	assertSameRows(t, "id_graph_updates", gotGraph, wantGraph)
	assertSameRows(t, "external_id_mapping_updates", gotMappings, wantMappings)
	if len(wantGraph) < 100 {
		t.Fatalf("the stream produced only %d graph rows; the test exercises too little", len(wantGraph))
	}
}

func assertSameRows(t *testing.T, table string, got, want []string) {
	t.Helper()
	dup := map[string]bool{}
	for _, r := range got {
		if dup[r] {
			t.Fatalf("%s: row %s applied twice", table, r)
		}
		dup[r] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, an uninterrupted resolution gives %d", table, len(got), len(want))
	}
	sort.Strings(got)
	sort.Strings(want)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row %q, an uninterrupted resolution gives %q", table, got[i], want[i])
		}
	}
}
