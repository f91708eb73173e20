package adaptertest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/profilesync/profilesync/adapters"
)

// testEnsureTables: EnsureTables leaves the tables as EnsureTable one by
// one does (created, extended, id added where missing, nothing dropped or
// retyped), for many tables and a change log among them, and is
// idempotent. Warehouses without adapters.TablesEnsurer skip it.
func testEnsureTables(t *testing.T, open Open) {
	batch, single := setup(t, open), setup(t, open)
	te, ok := batch.w.(adapters.TablesEnsurer)
	if !ok {
		t.Skipf("%T does not implement adapters.TablesEnsurer", batch.w)
	}
	var first, second []adapters.Table
	for i := range 120 {
		name := fmt.Sprintf("event_%03d", i)
		first = append(first, adapters.Table{Name: name, Columns: []adapters.Column{
			{Name: "id", Type: adapters.String}, {Name: "n", Type: adapters.Int},
		}})
		// The second round adds a column to some tables, creates others
		// without an id, and retypes nothing.
		cols := []adapters.Column{{Name: "n", Type: adapters.String}}
		if i%2 == 0 {
			cols = append(cols, adapters.Column{Name: fmt.Sprintf("c%d", i), Type: adapters.Float})
		}
		second = append(second, adapters.Table{Name: name, Columns: cols},
			adapters.Table{Name: fmt.Sprintf("other_%03d", i), Columns: []adapters.Column{{Name: "flag", Type: adapters.Bool}}})
	}
	first = append(first, adapters.IDGraphUpdates())
	for _, round := range [][]adapters.Table{first, second, second} {
		if err := te.EnsureTables(batch.ctx, round); err != nil {
			t.Fatalf("EnsureTables: %v", err)
		}
		single.ensure(round...)
	}
	got, err := batch.w.Tables(batch.ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	want, err := single.w.Tables(single.ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	made := 0
	for name := range got {
		if !strings.HasPrefix(name, "_") { // the bookkeeping tables
			made++
		}
	}
	if made != 2*120+1 || !reflect.DeepEqual(got, want) {
		t.Errorf("EnsureTables made %d tables, EnsureTable %d; the same: %v", made, len(want), reflect.DeepEqual(got, want))
	}
	if cols := got["event_004"]; !reflect.DeepEqual(cols, []adapters.Column{
		{Name: "id", Type: adapters.String}, {Name: "n", Type: adapters.Int}, {Name: "c4", Type: adapters.Float},
	}) {
		t.Errorf("event_004 columns: %v", cols)
	}
	// The tables take rows.
	batch.load(adapters.Chunk{Stream: "s", After: 0, Upto: 1, Tables: []adapters.Rows{
		{Table: "event_004", Columns: []string{"id", "n", "c4"}, Values: [][]any{{"a", int64(1), 2.5}}},
		{Table: "other_007", Columns: []string{"id", "flag"}, Values: [][]any{{"b", true}}},
	}})
	batch.wantRows("event_004", batch.rows("event_004", "id", "n", "c4"), [][]any{{"a", int64(1), 2.5}})
}
