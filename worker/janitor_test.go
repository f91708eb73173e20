package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/profilesync/profilesync/store"
)

// TestJanitorPrunesDedupe runs the janitor once over a real store: a message
// id received before the window is forgotten, a recent one is not.
func TestJanitorPrunesDedupe(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateSpace(ctx, store.Space{ID: "main", Name: "main"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSource(ctx, store.Source{ID: "web", SpaceID: "main", Name: "web", Slug: "web"}, "key"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Time) store.InboxEvent {
		return store.InboxEvent{SpaceID: "main", SourceID: "web", MessageID: id, Type: "track", ReceivedAt: at, Timestamp: at, Payload: []byte(`{}`)}
	}
	// A window far longer than the events' age: without pruning both would
	// be duplicates.
	const window = 1000 * time.Hour
	if _, err := st.Append(ctx, []store.InboxEvent{ev("old", now.Add(-48*time.Hour)), ev("new", now.Add(-time.Hour))}, window); err != nil {
		t.Fatal(err)
	}
	jctx, cancel := context.WithCancel(ctx)
	runJanitor(jctx, pruneOnce{st, cancel}, 24*time.Hour, time.Hour, func() time.Time { return now }, slog.New(slog.DiscardHandler))

	ok, err := st.Append(ctx, []store.InboxEvent{ev("old", now), ev("new", now)}, window)
	if err != nil {
		t.Fatal(err)
	}
	if !ok[0] || ok[1] {
		t.Errorf("after pruning a 24h window: accepted = %v, want [old: true (forgotten), new: false (still a duplicate)]", ok)
	}
}

// pruneOnce stops the janitor after its first pass.
type pruneOnce struct {
	pruner
	stop func()
}

func (p pruneOnce) PruneDedupe(ctx context.Context, cutoff time.Time) error {
	defer p.stop()
	return p.pruner.PruneDedupe(ctx, cutoff)
}
