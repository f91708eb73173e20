package postgres

import (
	"sync"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/profilesync/profilesync/adapters"
)

// TestConcurrentLoads: the same chunk loaded by several callers at once
// lands once; the others are skipped.
func TestConcurrentLoads(t *testing.T) {
	db := newTestDB(t)
	w := db.open(t)
	defer w.Close()
	ctx := t.Context()
	if err := w.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.EnsureTable(ctx, adapters.IDGraphUpdates()); err != nil {
		t.Fatal(err)
	}
	chunk := adapters.Chunk{Stream: "graph", Upto: 1000, Tables: []adapters.Rows{graphRows("g", 5000, 1)}}
	const callers = 4
	results := make([]adapters.LoadResult, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = w.Load(ctx, chunk) })
	}
	wg.Wait()
	loaded := 0
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		}
		if !results[i].Skipped {
			loaded++
		}
	}
	if loaded != 1 {
		t.Errorf("%d callers loaded the chunk, want 1", loaded)
	}
	countRows(t, w, 5000, 1000)
}

// TestConcurrentMaterialize: Materialize runs serialize; one that raced
// another fails with a serialization error or finds nothing to do, and the
// tables are as if it ran once.
func TestConcurrentMaterialize(t *testing.T) {
	db := newTestDB(t)
	w := db.open(t)
	defer w.Close()
	ctx := t.Context()
	if err := w.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.EnsureTable(ctx, adapters.IDGraphUpdates()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Load(ctx, adapters.Chunk{Stream: "graph", Upto: 5000, Tables: []adapters.Rows{graphRows("g", 5000, 1)}}); err != nil {
		t.Fatal(err)
	}
	// Create the current-state tables first: concurrent DDL is another story.
	if _, err := w.Materialize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	const callers = 4
	written := make([]map[string]int64, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { written[i], errs[i] = w.Materialize(ctx, 5000) })
	}
	wg.Wait()
	did := 0
	for i := range callers {
		switch {
		case errs[i] != nil && pq.As(errs[i], pqerror.TRSerializationFailure) == nil:
			t.Errorf("caller %d: %v", i, errs[i])
		case errs[i] == nil && written[i][adapters.TableIDGraph] > 0:
			did++
		}
	}
	t.Logf("errors: %v", errs)
	if did != 1 {
		t.Errorf("%d callers materialized, want 1 (errors %v)", did, errs)
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+w.QualifiedName(adapters.TableIDGraph)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5000 {
		t.Errorf("id_graph has %d rows, want 5000", n)
	}
	if wm, err := w.Watermark(ctx, materializeStream); err != nil || wm != 5000 {
		t.Errorf("materialize watermark %d (%v), want 5000", wm, err)
	}
}
