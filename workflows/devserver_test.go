package workflows

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

// recordHistories rewrites testdata/*.json from the runs of
// TestOnDevServer:
//
//	go test ./workflows -run TestOnDevServer -record
//
// PROFILESYNC_RECORD_HISTORIES=1 does the same.
var recordHistories = flag.Bool("record", os.Getenv("PROFILESYNC_RECORD_HISTORIES") == "1",
	"rewrite the replay histories in testdata/ from a run on the Temporal dev server")

// devServerCANThreshold is the history length at which the dev server
// suggests continue-as-new, lowered from 4096 so the runs here exercise it.
const devServerCANThreshold = 60

const devTaskQueue = "profilesync-test"

// devServer runs the pinned Temporal CLI's dev server with the search
// attributes registered and a worker running the workflows with the stand-in
// activities f.
func devServer(t *testing.T, f *fakeActivities) client.Client {
	t.Helper()
	cli := testenv.TemporalCLI(t)
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	extra := append(SearchAttributeFlags(),
		"--dynamic-config-value", fmt.Sprintf("limit.historyCount.suggestContinueAsNew=%d", devServerCANThreshold))
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{Namespace: "default", Logger: logger},
		LogLevel:      "error",
		ExtraArgs:     extra,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c := srv.Client()
	w := worker.New(c, devTaskQueue, worker.Options{
		WorkflowPanicPolicy:      worker.FailWorkflow,
		DeadlockDetectionTimeout: time.Minute, // a loaded machine under -race is slow
	})
	Register(w)
	w.RegisterActivity(f)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return c
}

// devFake is the stand-in activities of TestOnDevServer; its behaviour
// depends on the warehouse id.
func devFake() (*fakeActivities, func()) {
	f := newFake()
	var mu sync.Mutex
	fixed := false
	f.testConnection = func(in TestInput) (TestResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if in.WarehouseID == "wh-life" && !fixed {
			return failingTest(in)
		}
		return passingTest(), nil
	}
	f.loadEvents = func(in LoadEventsInput) (LoadOutput, error) {
		switch in.WarehouseID {
		case "wh-partial":
			return LoadOutput{}, temporal.NewNonRetryableApplicationError("permission denied for schema analytics", ErrTypeAuthFailed, nil)
		case "wh-big":
			return LoadOutput{Rows: 3_000_000_000, Tables: map[string]int64{"tracks": 1_000_000_000, "pages": 1_000_000_000, "order_completed": 1_000_000_000}}, nil
		}
		return LoadOutput{Rows: 6, Tables: map[string]int64{"tracks": 3, "order_completed": 2, "identifies": 1}}, nil
	}
	f.loadIdentity = func(in LoadInput) (LoadOutput, error) {
		if in.WarehouseID == "wh-big" {
			return LoadOutput{Table: in.Table, Rows: 2_000_000_000}, nil
		}
		return LoadOutput{Table: in.Table, Rows: 10}, nil
	}
	f.heartbeats = 200
	return f, func() { mu.Lock(); fixed = true; mu.Unlock() }
}

// TestOnDevServer runs the workflows on a real Temporal server with stand-in
// activities: the lifecycle end to end (updates refused by validators on the
// real server, the sync's signal back, the backfill child), syncs of every
// status with bounded histories, and continue-as-new of both long-running
// workflows. Every run is replayed with the current code; with -record the
// histories are written to testdata/ for TestReplayHistories.
func TestOnDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Temporal dev server")
	}
	f, fix := devFake()
	c := devServer(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var runs []recordedRun

	t.Run("lifecycle", func(t *testing.T) {
		id := WarehouseWorkflowID("wh-life")
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: devTaskQueue}, WarehouseWorkflowType,
			WarehouseInput{WarehouseID: "wh-life", SpaceID: "space1"})
		require.NoError(t, err)
		st := waitForState(ctx, t, c, id, StateTestFailed)
		require.Equal(t, "connect", st.LastTest.FailedStep)

		requireRefused(t, update(ctx, c, id, UpdateApprove, staff, nil), ErrTypeInvalidState)
		fix()
		require.NoError(t, update(ctx, c, id, UpdateRetest, admin, &st))
		require.Equal(t, StateAwaitingApproval, st.State)
		requireRefused(t, update(ctx, c, id, UpdateApprove, admin, nil), ErrTypeForbidden)
		requireRefused(t, update(ctx, c, id, UpdateApprove, viewer, nil), ErrTypeForbidden)
		require.NoError(t, update(ctx, c, id, UpdateApprove, staff, &st))
		require.Equal(t, StateEnabled, st.State)
		requireRefused(t, update(ctx, c, id, UpdateSetSchedule, ScheduleChange{Actor: admin, Schedule: "5m"}, nil), ErrTypeInvalidArgument)
		require.NoError(t, update(ctx, c, id, UpdateSetSchedule, ScheduleChange{Actor: admin, Schedule: "0 */2 * * *"}, &st))
		require.NoError(t, update(ctx, c, id, UpdateSyncNow, admin, nil))

		// The schedule would start this; its signal reaches the warehouse.
		syncRun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: SyncScheduleID("wh-life") + "-2026-11-28T12:00:00Z", TaskQueue: devTaskQueue},
			SyncWorkflowType, SyncInput{WarehouseID: "wh-life"})
		require.NoError(t, err)
		var report SyncReport
		require.NoError(t, syncRun.Get(ctx, &report))
		require.Equal(t, StatusSuccess, report.Status)
		runs = append(runs, recordedRun{"sync-success", syncRun.GetID(), syncRun.GetRunID()})
		require.Eventually(t, func() bool {
			st := queryServer(ctx, t, c, id)
			return st.LastSync != nil && st.LastSync.WorkflowID == syncRun.GetID()
		}, 10*time.Second, 20*time.Millisecond)

		var backfillID string
		from := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
		require.NoError(t, update(ctx, c, id, UpdateBackfill, BackfillRequest{Actor: admin, From: from, To: from.Add(24 * time.Hour)}, &backfillID))
		require.Equal(t, BackfillWorkflowID("wh-life", from, from.Add(24*time.Hour)), backfillID)
		var bf SyncReport
		require.NoError(t, c.GetWorkflow(ctx, backfillID, "").Get(ctx, &bf))
		require.Equal(t, StatusSuccess, bf.Status)

		requireRefused(t, update(ctx, c, id, UpdateDelete, admin, nil), ErrTypeInvalidState)
		require.NoError(t, update(ctx, c, id, UpdateDisable, admin, nil))
		require.NoError(t, update(ctx, c, id, UpdateDelete, admin, &st))
		require.Equal(t, StateDeleted, st.State)
		var final WarehouseState
		require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &final))
		require.Equal(t, StateDeleted, final.State)
		require.Equal(t, "0 */2 * * *", final.Schedule)
		require.Equal(t, "sam", final.ApprovedBy)

		children, accepted := 0, 0
		for i, runID := range runChain(ctx, t, c, id, run.GetRunID()) {
			runs = append(runs, recordedRun{fmt.Sprintf("warehouse-lifecycle-run%d", i+1), id, runID})
			for _, e := range fetchHistory(ctx, t, c, id, runID).Events {
				if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
					accepted++
				}
				if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
					children++
					require.Equal(t, backfillID, a.GetWorkflowId())
					require.Equal(t, enumspb.PARENT_CLOSE_POLICY_ABANDON, a.GetParentClosePolicy(), "a backfill outlives its parent's run")
				}
			}
		}
		require.Equal(t, 1, children)
		// retest, approve, set_schedule, sync_now, backfill, disable, delete;
		// the five refused updates left no trace.
		require.Equal(t, 7, accepted)
		runs = append(runs, recordedRun{"backfill-child", backfillID, ""})
		requireSearchAttribute(ctx, t, c, fmt.Sprintf("WarehouseID = 'wh-life' AND WarehouseState = '%s'", StateDeleted), 1)
	})

	t.Run("sync statuses and history bound", func(t *testing.T) {
		for _, tc := range []struct{ warehouse, status string }{
			{"wh-partial", StatusPartialSuccess},
			{"wh-big", StatusSuccess},
		} {
			id := SyncScheduleID(tc.warehouse) + "-2026-11-28T12:00:00Z"
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: devTaskQueue}, SyncWorkflowType, SyncInput{WarehouseID: tc.warehouse})
			require.NoError(t, err)
			var r SyncReport
			require.NoError(t, run.Get(ctx, &r))
			require.Equal(t, tc.status, r.Status)
			if tc.warehouse == "wh-big" {
				require.Equal(t, int64(9_000_000_000+5), r.Rows)
				runs = append(runs, recordedRun{"", id, run.GetRunID()}) // bound only
			} else {
				runs = append(runs, recordedRun{"sync-partial", id, run.GetRunID()})
			}
		}
		requireSearchAttribute(ctx, t, c, "SyncStatus = 'partial_success' AND WarehouseID = 'wh-partial'", 1)
		requireSearchAttribute(ctx, t, c, "SyncRows >= 9000000000", 1)
	})

	t.Run("backfill continues as new", func(t *testing.T) {
		f.set(func() { f.eventRange = Range{After: 0, Upto: 15} })
		from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		id := BackfillWorkflowID("wh-bf", from, from.Add(24*time.Hour))
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: devTaskQueue}, BackfillWorkflowType,
			BackfillInput{WarehouseID: "wh-bf", From: from, To: from.Add(24 * time.Hour), ChunkSize: 1})
		require.NoError(t, err)
		firstRun := run.GetRunID() // Get follows continue-as-new and moves the run id
		var r SyncReport
		require.NoError(t, run.Get(ctx, &r))
		require.Equal(t, StatusSuccess, r.Status)
		require.Equal(t, int64(15), r.Rows)
		chain := runChain(ctx, t, c, id, firstRun)
		for i, runID := range chain {
			runs = append(runs, recordedRun{fmt.Sprintf("backfill-run%d", i+1), id, runID})
		}
		require.Greater(t, len(chain), 1, "the backfill should have continued as new")
	})

	t.Run("warehouse continues as new", func(t *testing.T) {
		id := WarehouseWorkflowID("wh-can")
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: devTaskQueue}, WarehouseWorkflowType,
			WarehouseInput{WarehouseID: "wh-can", SpaceID: "space1"})
		require.NoError(t, err)
		waitForState(ctx, t, c, id, StateAwaitingApproval)
		require.NoError(t, update(ctx, c, id, UpdateApprove, staff, nil))
		var last SyncSummary
		for i := range 60 {
			last = SyncSummary{WorkflowID: fmt.Sprintf("sync-wh-can-%03d", i), Status: StatusSuccess, Rows: int64(i),
				StartedAt: t0.Add(time.Duration(i) * time.Hour), FinishedAt: t0.Add(time.Duration(i)*time.Hour + time.Minute)}
			require.NoError(t, c.SignalWorkflow(ctx, id, "", SignalSyncFinished, last))
		}
		require.Eventually(t, func() bool {
			st := queryServer(ctx, t, c, id)
			return st.LastSync != nil && *st.LastSync == last
		}, 10*time.Second, 20*time.Millisecond, "the last signal is applied, across continue-as-new")
		st := queryServer(ctx, t, c, id)
		require.Equal(t, StateEnabled, st.State)
		require.Equal(t, "sam", st.ApprovedBy)
		require.NoError(t, update(ctx, c, id, UpdateDisable, admin, nil))
		require.NoError(t, update(ctx, c, id, UpdateDelete, admin, nil))
		var final WarehouseState
		require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &final))
		require.Equal(t, StateDeleted, final.State)
		chain := runChain(ctx, t, c, id, run.GetRunID())
		require.Greater(t, len(chain), 1, "the warehouse workflow should have continued as new")
		for i, runID := range chain {
			runs = append(runs, recordedRun{fmt.Sprintf("warehouse-can-run%d", i+1), id, runID})
		}
		tests := 0
		for _, in := range f.called(ActivityTestConnection) {
			if in.(TestInput).WarehouseID == "wh-can" {
				tests++
			}
		}
		require.Equal(t, 1, tests, "continue-as-new does not test again")
	})

	t.Run("histories", func(t *testing.T) {
		replayer := newReplayer()
		dir := "testdata"
		if *recordHistories {
			old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			for _, p := range old {
				require.NoError(t, os.Remove(p))
			}
			require.NoError(t, os.MkdirAll(dir, 0o755))
		}
		for _, r := range runs {
			h := fetchHistory(ctx, t, c, r.workflowID, r.runID)
			n := len(h.Events)
			t.Logf("%-22s %-60s %4d events", r.name, r.workflowID, n)
			if h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName() == SyncWorkflowType {
				require.LessOrEqual(t, n, SyncHistoryBound, "sync history of %s", r.workflowID)
			}
			require.NoError(t, replayer.ReplayWorkflowHistory(nil, h), "replaying %s", r.workflowID)
			if *recordHistories && r.name != "" {
				b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(dir, r.name+".json"), append(b, '\n'), 0o644))
			}
		}
	})
}

type recordedRun struct {
	name              string // file name in testdata/, "" to check only
	workflowID, runID string
}

func update(ctx context.Context, c client.Client, id, name string, arg, out any) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, out)
}

func requireRefused(t *testing.T, err error, errType string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, errType, appErr.Type(), "%v", err)
}

func queryServer(ctx context.Context, t *testing.T, c client.Client, id string) WarehouseState {
	t.Helper()
	v, err := c.QueryWorkflow(ctx, id, "", QueryState)
	require.NoError(t, err)
	var st WarehouseState
	require.NoError(t, v.Get(&st))
	return st
}

func waitForState(ctx context.Context, t *testing.T, c client.Client, id, state string) WarehouseState {
	t.Helper()
	var st WarehouseState
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		if err != nil {
			return false
		}
		require.NoError(t, v.Get(&st))
		return st.State == state
	}, 10*time.Second, 20*time.Millisecond, "waiting for %s to be %s", id, state)
	return st
}

func requireSearchAttribute(ctx context.Context, t *testing.T, c client.Client, query string, want int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default", Query: query})
		return err == nil && resp.GetCount() == want
	}, 10*time.Second, 50*time.Millisecond, "count of %s", query)
}

func fetchHistory(ctx context.Context, t *testing.T, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	require.NotEmpty(t, h.Events)
	return h
}

// runChain returns the run ids of a workflow from firstRunID through its
// continue-as-new successors.
func runChain(ctx context.Context, t *testing.T, c client.Client, id, firstRunID string) []string {
	t.Helper()
	chain := []string{firstRunID}
	for {
		h := fetchHistory(ctx, t, c, id, chain[len(chain)-1])
		last := h.Events[len(h.Events)-1]
		if last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
			return chain
		}
		next := last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		if next == "" {
			t.Fatal(errors.New("continued as new without a run id"))
		}
		chain = append(chain, next)
	}
}
