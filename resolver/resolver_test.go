package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type backend struct {
	name string
	dsn  func(t *testing.T) string
}

func backends() []backend {
	return []backend{
		{"postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }},
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "store.db") }},
	}
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateSpace(context.Background(), store.Space{ID: "main", Name: "Main"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSource(context.Background(), store.Source{ID: "web", SpaceID: "main", Name: "Web", Slug: "web"}, "key"); err != nil {
		t.Fatal(err)
	}
	return st
}

func quiet(o Options) Options {
	o.Logger = slog.New(slog.DiscardHandler)
	return o
}

// event builds a normalized inbox event as the ingest API stores it.
func event(n int, typ string, fields map[string]any) store.InboxEvent {
	at := t0.Add(time.Duration(n) * time.Second)
	msg := map[string]any{
		"type":       typ,
		"messageId":  fmt.Sprintf("m%d", n),
		"receivedAt": at.Format(time.RFC3339Nano),
		"timestamp":  at.Format(time.RFC3339Nano),
	}
	for k, v := range fields {
		msg[k] = v
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return store.InboxEvent{SpaceID: "main", SourceID: "web", MessageID: msg["messageId"].(string),
		Type: typ, ReceivedAt: at, Timestamp: at, Payload: payload}
}

func appendEvents(t *testing.T, st store.Store, evs ...store.InboxEvent) {
	t.Helper()
	if _, err := st.Append(context.Background(), evs, 24*time.Hour); err != nil {
		t.Fatalf("appending: %v", err)
	}
}

// drain steps r until the inbox is empty.
func drain(t *testing.T, r *Resolver) {
	t.Helper()
	for {
		n, err := r.Step(context.Background())
		if err != nil {
			t.Fatalf("step: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// logs reads the whole change logs of the space, without seqs (which are
// store-wide and so differ between stores).
type logs struct {
	Graph    []identity.GraphUpdate
	Mappings []identity.MappingUpdate
	Traits   []identity.TraitsUpdate
	Events   []string // segment id per event, in position order
}

func readLogs(t *testing.T, st store.Store) logs {
	t.Helper()
	ctx := context.Background()
	pos, err := st.ResolverPosition(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	var l logs
	g, err := st.GraphUpdates(ctx, "main", 0, pos.LastSeq, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.MappingUpdates(ctx, "main", 0, pos.LastSeq, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := st.TraitsUpdates(ctx, "main", 0, pos.LastSeq, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.Events(ctx, "main", 0, pos.Pos, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range g {
		g[i].Seq, g[i].EventPos = 0, 0
	}
	for i := range m {
		m[i].Seq, m[i].EventPos = 0, 0
	}
	for i := range tr {
		tr[i].Seq, tr[i].EventPos = 0, 0
		for k, v := range tr[i].Traits {
			v.Pos = 0
			tr[i].Traits[k] = v
		}
	}
	l.Graph, l.Mappings, l.Traits = g, m, tr
	for _, e := range evs {
		l.Events = append(l.Events, e.SegmentID)
	}
	return l
}

// TestCaseStudy runs the docs' case study (segment-semantics.md §2.3)
// through the real store.
func TestCaseStudy(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st := openStore(t, b.dsn(t))
			appendEvents(t, st,
				event(1, "page", map[string]any{"anonymousId": "5285"}),
				event(2, "identify", map[string]any{"anonymousId": "5285", "traits": map[string]any{"email": "jane@example.com"}}),
				event(3, "page", map[string]any{"anonymousId": "b50e"}),
				event(4, "identify", map[string]any{"anonymousId": "b50e", "traits": map[string]any{"email": "jane@example.com"}}),
			)
			r := New(st, "main", quiet(Options{}))
			drain(t, r)
			l := readLogs(t, st)
			if len(l.Graph) != 3 {
				t.Fatalf("id_graph_updates: got %d rows, want 3: %+v", len(l.Graph), l.Graph)
			}
			p1, p2 := l.Graph[0].SegmentID, l.Graph[1].SegmentID
			want := [][3]string{{p1, p1, "m1"}, {p2, p2, "m3"}, {p2, p1, "m4"}}
			for i, g := range l.Graph {
				got := [3]string{g.SegmentID, g.CanonicalSegmentID, g.EventID}
				if got != want[i] {
					t.Errorf("id_graph_updates[%d] = %v, want %v", i, got, want[i])
				}
			}
			var maps [][3]string
			for _, m := range l.Mappings {
				maps = append(maps, [3]string{m.Type, m.Value, m.SegmentID})
			}
			wantMaps := [][3]string{{"anonymous_id", "5285", p1}, {"email", "jane@example.com", p1}, {"anonymous_id", "b50e", p2}}
			if !reflect.DeepEqual(maps, wantMaps) {
				t.Errorf("external_id_mapping_updates = %v, want %v", maps, wantMaps)
			}
			if len(l.Traits) == 0 || l.Traits[0].SegmentID != p1 || l.Traits[0].Traits["email"].Value != "jane@example.com" {
				t.Errorf("profile_traits_updates = %+v, want a snapshot of %s with email", l.Traits, p1)
			}
			if want := []string{p1, p1, p2, p1}; !reflect.DeepEqual(l.Events, want) {
				t.Errorf("event stamps = %v, want %v", l.Events, want)
			}
		})
	}
}

// stream returns a deterministic stream of events with anonymous browsing,
// identifies, merges and trait changes.
func stream(n int) []store.InboxEvent {
	var out []store.InboxEvent
	for i := 1; i <= n; i++ {
		anon := fmt.Sprintf("a%d", i%17)
		switch i % 5 {
		case 0:
			out = append(out, event(i, "identify", map[string]any{"anonymousId": anon, "userId": fmt.Sprintf("u%d", i%7),
				"traits": map[string]any{"email": fmt.Sprintf("e%d@x", i%11), "plan": fmt.Sprintf("p%d", i%3), "seen": i}}))
		case 3:
			out = append(out, event(i, "identify", map[string]any{"anonymousId": anon,
				"traits": map[string]any{"email": fmt.Sprintf("e%d@x", i%11), "plan": nil}}))
		default:
			out = append(out, event(i, "track", map[string]any{"anonymousId": anon, "event": "Viewed"}))
		}
	}
	return out
}

// TestRestartEqualsUninterrupted stops a resolver after part of the inbox and
// continues with a new one (as after a crash): the change logs equal those of
// an uninterrupted run.
func TestRestartEqualsUninterrupted(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			evs := stream(400)

			whole := openStore(t, b.dsn(t))
			appendEvents(t, whole, evs...)
			drain(t, New(whole, "main", quiet(Options{BatchSize: 64})))

			split := openStore(t, b.dsn(t))
			appendEvents(t, split, evs[:150]...)
			first := New(split, "main", quiet(Options{BatchSize: 64}))
			drain(t, first)
			appendEvents(t, split, evs[150:]...)
			if _, err := first.Step(context.Background()); err != nil { // one more batch, then "crash"
				t.Fatal(err)
			}
			drain(t, New(split, "main", quiet(Options{BatchSize: 50})))

			a, c := readLogs(t, whole), readLogs(t, split)
			if len(a.Graph) == 0 || len(a.Traits) == 0 {
				t.Fatalf("stream produced no graph or traits rows: %d, %d", len(a.Graph), len(a.Traits))
			}
			if !reflect.DeepEqual(a, c) {
				t.Fatalf("logs after restart differ from an uninterrupted run:\nuninterrupted %d/%d/%d rows\nrestarted     %d/%d/%d rows",
					len(a.Graph), len(a.Mappings), len(a.Traits), len(c.Graph), len(c.Mappings), len(c.Traits))
			}
		})
	}
}

// TestConcurrentResolvers runs two resolvers on one space: the loser of each
// race gets a conflict, rebuilds and continues; nothing is applied twice.
func TestConcurrentResolvers(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			evs := stream(300)
			ref := openStore(t, b.dsn(t))
			appendEvents(t, ref, evs...)
			drain(t, New(ref, "main", quiet(Options{BatchSize: 40})))

			st := openStore(t, b.dsn(t))
			appendEvents(t, st, evs...)
			r1 := New(st, "main", quiet(Options{BatchSize: 40}))
			r2 := New(st, "main", quiet(Options{BatchSize: 40}))
			for _, r := range []*Resolver{r1, r2} { // both load at position 0 ...
				if err := r.load(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r1.Step(context.Background()); err != nil { // ... r1 moves it ...
				t.Fatal(err)
			}
			if _, err := r2.Step(context.Background()); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second resolver at a stale position: err = %v, want ErrConflict", err)
			}
			conflicts := 0
			for {
				n1, err1 := r1.Step(context.Background())
				n2, err2 := r2.Step(context.Background())
				for _, err := range []error{err1, err2} {
					if errors.Is(err, store.ErrConflict) {
						conflicts++
					} else if err != nil {
						t.Fatal(err)
					}
				}
				if n1 == 0 && n2 == 0 && err1 == nil && err2 == nil {
					break
				}
			}
			if conflicts == 0 {
				t.Fatal("no conflict between interleaved resolvers")
			}
			if a, c := readLogs(t, ref), readLogs(t, st); !reflect.DeepEqual(a, c) {
				t.Fatalf("logs with two resolvers differ from one: %d/%d/%d vs %d/%d/%d rows",
					len(a.Graph), len(a.Mappings), len(a.Traits), len(c.Graph), len(c.Mappings), len(c.Traits))
			}
		})
	}
}
