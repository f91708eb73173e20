package activities

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/workflows"
)

// countingDB counts the warehouse's schema reads.
type countingDB struct {
	fullDB
	reads *atomic.Int64
}

// fullDB is what both adapters offer.
type fullDB interface {
	testDB
	adapters.Widener
}

func (c countingDB) Tables(ctx context.Context) (map[string][]adapters.Column, error) {
	c.reads.Add(1)
	return c.fullDB.Tables(ctx)
}

// TestSchemaCache checks that loads read the warehouse's schema once, then
// use the store's copy, and that a copy gone stale (a column dropped behind
// the loader's back) makes the load read the schema again and retry the
// chunk, which then lands.
func TestSchemaCache(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			acts := newActivities(st)
			var reads atomic.Int64
			acts.Open = func(ctx context.Context, cfg adapters.Config) (adapters.Warehouse, error) {
				w, err := OpenAdapter(ctx, cfg)
				if err != nil {
					return nil, err
				}
				return countingDB{fullDB: w.(fullDB), reads: &reads}, nil
			}
			h := newHarness(t, acts)
			db := warehouseDB(t, st, "wh1")
			load := func(n int, props map[string]any) workflows.LoadOutput {
				t.Helper()
				ingest(t, st, event(n, "track", map[string]any{"userId": "u1", "event": "Order Completed", "properties": props}))
				reads.Store(0)
				return eventSync(h, "wh1")
			}

			load(1, map[string]any{"revenue": 10, "coupon": "A"})
			if n := reads.Load(); n != 1 {
				t.Errorf("first load read the warehouse schema %d times, want 1", n)
			}
			cached, err := st.WarehouseSchema(t.Context(), "wh1")
			if err != nil {
				t.Fatal(err)
			}
			types := map[string]string{}
			for _, c := range cached["order_completed"] {
				types[c.Name] = c.Type
			}
			if types["revenue"] != "int" || types["coupon"] != "string" || types["id"] != "string" || len(cached["tracks"]) == 0 {
				t.Errorf("store's copy of order_completed: %v", types)
			}

			load(2, map[string]any{"revenue": 11.5, "coupon": "B", "new": true})
			if n := reads.Load(); n != 0 {
				t.Errorf("second load read the warehouse schema %d times, want 0", n)
			}
			cached, err = st.WarehouseSchema(t.Context(), "wh1")
			if err != nil {
				t.Fatal(err)
			}
			types = map[string]string{}
			for _, c := range cached["order_completed"] {
				types[c.Name] = c.Type
			}
			if types["revenue"] != "float" || types["new"] != "bool" {
				t.Errorf("store's copy after widening and a new column: %v", types)
			}

			// Someone drops a column: the copy is stale, the load finds out
			// and lands the chunk.
			query(t, db, "ALTER TABLE "+db.QualifiedName("order_completed")+" DROP COLUMN coupon")
			out := load(3, map[string]any{"revenue": 12, "coupon": "C"})
			if n := reads.Load(); n != 1 {
				t.Errorf("load after a dropped column read the warehouse schema %d times, want 1", n)
			}
			if want := map[string]int64{"tracks": 1, "order_completed": 1}; !reflect.DeepEqual(out.Tables, want) {
				t.Errorf("load after a dropped column = %+v, want %v", out, want)
			}
			got := query(t, db, "SELECT id, revenue, coupon FROM "+db.QualifiedName("order_completed")+" ORDER BY id")
			if want := [][]string{{"m1", "10", "∅"}, {"m2", "11.5", "∅"}, {"m3", "12", "C"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("order_completed = %v, want %v", got, want)
			}
		})
	}
}
