package activities

import (
	"reflect"
	"testing"

	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// TestSelectiveSync turns a Track event table and a column of pages off and
// on again: off keeps what the warehouse holds and stops new data; on syncs
// new data; the gap fills only when backfilled, and a backfill of some tables
// touches only those.
func TestSelectiveSync(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			h := newHarness(t, newActivities(st))
			db := warehouseDB(t, st, "wh1")
			set := func(table, column string, on bool) {
				t.Helper()
				if _, err := st.SetSelection(t.Context(), "wh1", store.Selection{Table: table, Column: column, Enabled: on}); err != nil {
					t.Fatal(err)
				}
			}
			rows := func(table, cols string) [][]string {
				t.Helper()
				return query(t, db, "SELECT "+cols+" FROM "+db.QualifiedName(table)+" ORDER BY id")
			}
			order := func(n int, revenue int) store.InboxEvent {
				return event(n, "track", map[string]any{"userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": revenue}})
			}
			page := func(n int, path string) store.InboxEvent {
				return event(n, "page", map[string]any{"userId": "u1", "name": "P", "properties": map[string]any{"path": path, "title": "T"}})
			}

			ingest(t, st, order(1, 1), page(2, "/a"))
			eventSync(h, "wh1")

			// Off: order_completed and pages.path.
			set("order_completed", "", false)
			set("pages", "path", false)
			ingest(t, st, order(3, 3), page(4, "/b"), event(5, "track", map[string]any{"userId": "u1", "event": "Refund Issued"}))
			out := eventSync(h, "wh1")
			if out.Tables["order_completed"] != 0 || out.Tables["pages"] != 1 || out.Tables["tracks"] != 2 || out.Tables["refund_issued"] != 1 {
				t.Errorf("sync while off loaded %v", out.Tables)
			}
			if got := rows("order_completed", "id, revenue"); !reflect.DeepEqual(got, [][]string{{"m1", "1"}}) {
				t.Errorf("order_completed while off: %v (what was there stays, nothing new)", got)
			}
			if got := rows("pages", "id, path, title"); !reflect.DeepEqual(got, [][]string{{"m2", "/a", "T"}, {"m4", "∅", "T"}}) {
				t.Errorf("pages while path is off: %v", got)
			}

			// On again, no backfill: new data flows, the gap stays.
			set("order_completed", "", true)
			set("pages", "path", true)
			ingest(t, st, order(6, 6), page(7, "/c"))
			eventSync(h, "wh1")
			if got := rows("order_completed", "id, revenue"); !reflect.DeepEqual(got, [][]string{{"m1", "1"}, {"m6", "6"}}) {
				t.Errorf("order_completed on again: %v (m3 is the gap)", got)
			}
			if got := rows("pages", "id, path"); !reflect.DeepEqual(got, [][]string{{"m2", "/a"}, {"m4", "∅"}, {"m7", "/c"}}) {
				t.Errorf("pages on again: %v", got)
			}

			// The gap backfill of order_completed loads only that table.
			tracksBefore := count(t, db, "tracks")
			plan := must[workflows.Plan](h, h.acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
			bf := must[workflows.LoadOutput](h, h.acts.LoadEventsRange, workflows.LoadRangeInput{
				WarehouseID: "wh1", After: 0, Upto: plan.UptoPos, Stream: "backfill-gap-order", Tables: []string{"order_completed"}})
			if len(bf.Tables) != 1 || bf.Tables["order_completed"] != 3 {
				t.Errorf("gap backfill of order_completed loaded %v", bf.Tables)
			}
			if got := rows("order_completed", "id, revenue"); !reflect.DeepEqual(got, [][]string{{"m1", "1"}, {"m3", "3"}, {"m6", "6"}}) {
				t.Errorf("order_completed after the gap backfill: %v", got)
			}
			if n := count(t, db, "tracks"); n != tracksBefore {
				t.Errorf("a backfill of order_completed changed tracks: %d rows, were %d", n, tracksBefore)
			}
			if got := rows("pages", "id, path"); !reflect.DeepEqual(got, [][]string{{"m2", "/a"}, {"m4", "∅"}, {"m7", "/c"}}) {
				t.Errorf("a backfill of order_completed changed pages: %v", got)
			}
			// And the column's gap with a backfill of pages.
			must[workflows.LoadOutput](h, h.acts.LoadEventsRange, workflows.LoadRangeInput{
				WarehouseID: "wh1", After: 0, Upto: plan.UptoPos, Stream: "backfill-gap-pages", Tables: []string{"pages"}})
			if got := rows("pages", "id, path"); !reflect.DeepEqual(got, [][]string{{"m2", "/a"}, {"m4", "/b"}, {"m7", "/c"}}) {
				t.Errorf("pages after the gap backfill: %v", got)
			}
		})
	}
}

// TestNULInValues sends NUL characters in a property and a trait: PostgreSQL
// text cannot hold them, so they go to discards (escaped) instead of failing
// every retry of the load.
func TestNULInValues(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			h := newHarness(t, newActivities(st))
			db := warehouseDB(t, st, "wh1")
			ingest(t, st,
				event(1, "track", map[string]any{"userId": "u1", "event": "Nul", "properties": map[string]any{"bad": "a\x00b", "ok": "fine"}}),
				event(2, "identify", map[string]any{"userId": "u1", "traits": map[string]any{"note": "x\x00y", "plan": "pro"}}),
			)
			h.syncPass("wh1")
			if got := query(t, db, "SELECT id, ok FROM "+db.QualifiedName("nul")); !reflect.DeepEqual(got, [][]string{{"m1", "fine"}}) {
				t.Errorf("nul: %v", got)
			}
			got := query(t, db, "SELECT table_name, column_name, column_value, reason FROM "+db.QualifiedName("discards")+" ORDER BY table_name, column_name")
			want := [][]string{
				{"identifies", "note", `x\u0000y`, "string contains a NUL character"},
				{"nul", "bad", `a\u0000b`, "string contains a NUL character"},
				{"profile_traits_updates", "note", `x\u0000y`, "string contains a NUL character"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("discards:\n got  %v\n want %v", got, want)
			}
		})
	}
}
