package activities

import (
	"reflect"
	"testing"
	"time"

	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// TestRecordReport records reports through the activity and reads them back
// from the store; a secret that slipped into an error message is removed.
func TestRecordReport(t *testing.T) {
	st := openStore(t)
	createWarehouse(t, st, "wh1", "postgres", map[string]string{"host": "h", "user": "u", "database": "d", "schema": "s"}, badPassword)
	acts := newActivities(st)
	h := newHarness(t, acts)
	start := time.Date(2026, 11, 28, 12, 0, 0, 123456000, time.UTC)
	report := workflows.SyncReport{
		WorkflowID:  "sync-wh1-2026-11-28T12:00:00Z",
		WarehouseID: "wh1",
		Kind:        workflows.KindSync,
		Status:      workflows.StatusPartialSuccess,
		StartedAt:   start,
		FinishedAt:  start.Add(90 * time.Second),
		Rows:        12,
		Tables: []workflows.TableResult{
			{Table: "id_graph_updates", Group: workflows.GroupIdentity, Rows: 3},
			{Table: "pages", Group: workflows.GroupEventType, Rows: 9},
			{Table: "events", Group: workflows.GroupEventType, Error: "loading events: dial with " + badPassword},
		},
		Errors: []string{"loading events: dial with " + badPassword, "materialize skipped: an identity load failed"},
	}
	must[struct{}](h, acts.RecordReport, report)
	got, err := st.GetSyncRun(t.Context(), report.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.SyncRun{
		ID: report.WorkflowID, WarehouseID: "wh1", Kind: "sync", Status: "partial_success",
		StartedAt: start, Duration: 90 * time.Second, Rows: 12,
		Tables: []store.TableResult{
			{Table: "id_graph_updates", Group: "identity_graph", Rows: 3},
			{Table: "pages", Group: "event_type", Rows: 9},
			{Table: "events", Group: "event_type", Error: "loading events: dial with ***"},
		},
		Errors: []string{"loading events: dial with ***", "materialize skipped: an identity load failed"},
	}
	got.StartedAt = got.StartedAt.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored run:\n got %+v\nwant %+v", got, want)
	}

	// Recording again replaces the report: a retried RecordReport, or the
	// final report of a run.
	report.Status, report.Errors, report.Tables = workflows.StatusSuccess, nil, report.Tables[:2]
	must[struct{}](h, acts.RecordReport, report)
	runs, err := st.ListSyncRuns(t.Context(), "wh1", 10)
	if err != nil || len(runs) != 1 || runs[0].Status != "success" || len(runs[0].Errors) != 0 || len(runs[0].Tables) != 2 {
		t.Errorf("runs after the second record = %+v (%v), want the replaced report", runs, err)
	}

	// A report of a deleted warehouse is still recorded.
	must[struct{}](h, acts.DeleteWarehouse, workflows.WarehouseRef{WarehouseID: "wh1"})
	must[struct{}](h, acts.DeleteWarehouse, workflows.WarehouseRef{WarehouseID: "wh1"}) // missing is fine
	if _, err := st.Credentials(t.Context(), "wh1"); err == nil {
		t.Errorf("credentials survived DeleteWarehouse")
	}
	report.WorkflowID = "backfill-wh1"
	report.Kind = workflows.KindBackfill
	must[struct{}](h, acts.RecordReport, report)
	if r, err := st.GetSyncRun(t.Context(), "backfill-wh1"); err != nil || r.Kind != "backfill" {
		t.Errorf("backfill report = %+v, %v", r, err)
	}
}

// TestSetWarehouseState mirrors state and schedule into the record.
func TestSetWarehouseState(t *testing.T) {
	st := openStore(t)
	kinds()[1].create(t, st, "wh1")
	acts := newActivities(st)
	h := newHarness(t, acts)
	for range 2 {
		must[struct{}](h, acts.SetWarehouseState, workflows.StateInput{WarehouseID: "wh1", State: workflows.StateEnabled, Schedule: "15m"})
	}
	w, err := st.GetWarehouse(t.Context(), "wh1")
	if err != nil || w.State != workflows.StateEnabled || w.Schedule != "15m" {
		t.Errorf("warehouse = %+v, %v", w, err)
	}
}
