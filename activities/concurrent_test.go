package activities

import (
	"sync"
	"testing"

	"github.com/profilesync/profilesync/workflows"
)

// TestConcurrentLoads runs the four loads of a sync at once, as
// SyncWorkflow does, and checks that they load what they load one by one.
func TestConcurrentLoads(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			ingest(t, st, stream(1, 40)...)
			acts := newActivities(st)
			acts.ChunkSize = 7
			h := newHarness(t, acts)
			plan := must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
			must[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: "wh1"})

			var wg sync.WaitGroup
			outs := make([]workflows.LoadOutput, 4)
			errs := make([]error, 4)
			for i, table := range workflows.IdentityTables() {
				wg.Go(func() {
					outs[i], errs[i] = run[workflows.LoadOutput](h, acts.LoadIdentity, workflows.LoadInput{WarehouseID: "wh1", Table: table, UptoSeq: plan.UptoSeq})
				})
			}
			wg.Go(func() {
				outs[3], errs[3] = run[workflows.LoadOutput](h, acts.LoadEvents, workflows.LoadEventsInput{WarehouseID: "wh1", After: plan.EventsAfter, UptoPos: plan.UptoPos})
			})
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("load %d failed: %v", i, err)
				}
			}
			want := storeRows(t, st, 0, plan.UptoSeq)
			db := warehouseDB(t, st, "wh1")
			for i, table := range workflows.IdentityTables() {
				if outs[i].Rows != want[table] || count(t, db, table) != want[table] {
					t.Errorf("%s: loaded %+v, table has %d rows, want %d", table, outs[i], count(t, db, table), want[table])
				}
			}
			// 40 events, 7 of them Track events, which land twice: in tracks
			// and in order_completed.
			if outs[3].Rows != 47 || outs[3].Tables["order_completed"] != 7 {
				t.Errorf("events: loaded %+v, want 47 rows", outs[3])
			}
		})
	}
}
