package activities

import (
	"slices"
	"testing"
	"time"

	"github.com/profilesync/profilesync/workflows"
)

// TestBackfillRange loads a window of events as a backfill does: the range
// by time, then the positions in pieces under the backfill's own stream,
// which leaves the sync's events watermark alone; a rerun loads nothing.
func TestBackfillRange(t *testing.T) {
	st := openStore(t)
	kinds()[1].create(t, st, "wh1")
	ingest(t, st, stream(1, 10)...)
	acts := newActivities(st)
	acts.ChunkSize = 1
	h := newHarness(t, acts)
	db := warehouseDB(t, st, "wh1")

	r := must[workflows.Range](h, acts.EventRange, workflows.RangeInput{
		WarehouseID: "wh1", From: t0.Add(3 * time.Second), To: t0.Add(7 * time.Second)})
	if r != (workflows.Range{After: 2, Upto: 6}) {
		t.Fatalf("EventRange = %+v, want (2, 6]: the events received at 3s to 6s", r)
	}
	must[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: "wh1"})
	const stream = "backfill-wh1-test"
	var rows int64
	for _, piece := range []workflows.LoadRangeInput{
		{WarehouseID: "wh1", After: r.After, Upto: 4, Stream: stream},
		{WarehouseID: "wh1", After: 4, Upto: r.Upto, Stream: stream},
	} {
		out := must[workflows.LoadOutput](h, acts.LoadEventsRange, piece)
		rows += out.Rows
	}
	if rows != 4 {
		t.Errorf("backfill loaded %d rows, want 4", rows)
	}
	var got []string
	for _, table := range loadedTables()[3:] {
		got = append(got, ids(t, db, table)...)
	}
	slices.Sort(got)
	if want := []string{"m3", "m4", "m5", "m6"}; !slices.Equal(got, want) {
		t.Errorf("event ids %v, want %v", got, want)
	}
	// A rerun of the first piece is skipped: the stream is past it.
	if out := must[workflows.LoadOutput](h, acts.LoadEventsRange, workflows.LoadRangeInput{WarehouseID: "wh1", After: r.After, Upto: 4, Stream: stream}); out.Rows != 0 {
		t.Errorf("rerun loaded %+v", out)
	}
	// The sync's events watermark did not move: its first sync is still ahead.
	plan := must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
	if !plan.FirstSync {
		t.Errorf("plan = %+v: the backfill moved the sync's watermark", plan)
	}
}
