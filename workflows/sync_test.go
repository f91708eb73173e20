package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const syncID = "sync-wh1-2026-11-28T12:00:00Z"

func newSyncEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeActivities) {
	env, f := newEnv(t, syncID)
	env.OnSignalExternalWorkflow(mock.Anything, WarehouseWorkflowID(wh), "", SignalSyncFinished, mock.Anything).Return(nil)
	return env, f
}

func executeSync(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *fakeActivities) SyncReport {
	t.Helper()
	env.ExecuteWorkflow(SyncWorkflow, SyncInput{WarehouseID: wh})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "a sync completes with its report, whatever failed")
	var r SyncReport
	require.NoError(t, env.GetWorkflowResult(&r))
	recorded := f.called(ActivityRecordReport)
	require.Len(t, recorded, 1, "the report is always recorded")
	require.Equal(t, r, recorded[0])
	require.Equal(t, syncID, r.WorkflowID)
	require.Equal(t, wh, r.WarehouseID)
	require.Equal(t, KindSync, r.Kind)
	require.Equal(t, t0, r.StartedAt)
	return r
}

func TestSyncSuccess(t *testing.T) {
	env, f := newEnv(t, syncID)
	var signaled SyncSummary
	env.OnSignalExternalWorkflow(mock.Anything, WarehouseWorkflowID(wh), "", SignalSyncFinished, mock.Anything).
		Return(func(_, _, _, _ string, arg any) error { signaled = arg.(SyncSummary); return nil })
	r := executeSync(t, env, f)

	require.Equal(t, StatusSuccess, r.Status)
	require.Empty(t, r.Errors)
	require.Equal(t, []TableResult{
		{Table: "id_graph_updates", Group: GroupIdentity, Rows: 10},
		{Table: "external_id_mapping_updates", Group: GroupIdentity, Rows: 10},
		{Table: "profile_traits_updates", Group: GroupIdentity, Rows: 10},
		{Table: "id_graph", Group: GroupIdentity, Rows: 2},
		{Table: "user_traits", Group: GroupIdentity, Rows: 3},
		{Table: "identifies", Group: GroupEventType, Rows: 1},
		{Table: "tracks", Group: GroupEventType, Rows: 3},
		{Table: "order_completed", Group: GroupEvent, Rows: 2},
	}, r.Tables)
	require.Equal(t, int64(41), r.Rows)

	// The plan's cut goes to every load; the first sync's lookback to the
	// events load.
	require.Equal(t, []any{PlanInput{WarehouseID: wh, EventsLookback: DefaultEventsLookback}}, f.called(ActivityPlanSync))
	require.ElementsMatch(t, []any{
		LoadInput{WarehouseID: wh, Table: TableIDGraphUpdates, UptoSeq: 500},
		LoadInput{WarehouseID: wh, Table: TableExternalIDMappingUpdates, UptoSeq: 500},
		LoadInput{WarehouseID: wh, Table: TableProfileTraitsUpdates, UptoSeq: 500},
	}, f.called(ActivityLoadIdentity))
	require.Equal(t, []any{LoadEventsInput{WarehouseID: wh, After: 100, UptoPos: 900}}, f.called(ActivityLoadEvents))
	require.Equal(t, []any{MaterializeInput{WarehouseID: wh, UptoSeq: 500}}, f.called(ActivityMaterialize))
	names := f.names()
	require.Equal(t, []string{ActivityTestConnection, ActivityPlanSync, ActivityPrepareSchema}, names[:3])
	require.Equal(t, []string{ActivityMaterialize, ActivityRecordReport}, names[len(names)-2:])

	require.Equal(t, SyncSummary{WorkflowID: syncID, RunID: r.RunID, Status: StatusSuccess, Rows: 41, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}, signaled)
}

func TestSyncLoadsRunConcurrently(t *testing.T) {
	env, f := newSyncEnv(t)
	var mu sync.Mutex
	running, most := 0, 0
	isLoad := func(info *activity.Info) bool {
		return info.ActivityType.Name == ActivityLoadIdentity || info.ActivityType.Name == ActivityLoadEvents
	}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if isLoad(info) {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
		}
	})
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		if isLoad(info) {
			mu.Lock()
			running--
			mu.Unlock()
		}
	})
	release := make(chan struct{})
	var once sync.Once
	arrived := 0
	wait := func() {
		// Each load waits until all four have started.
		mu.Lock()
		arrived++
		if arrived == 4 {
			once.Do(func() { close(release) })
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}
	f.loadIdentity = func(in LoadInput) (LoadOutput, error) { wait(); return LoadOutput{Table: in.Table, Rows: 1}, nil }
	f.loadEvents = func(LoadEventsInput) (LoadOutput, error) { wait(); return LoadOutput{Table: "tracks", Rows: 1}, nil }
	executeSync(t, env, f)
	require.Equal(t, 4, most)
}

func TestSyncPartialWhenEventsFail(t *testing.T) {
	env, f := newSyncEnv(t)
	f.loadEvents = func(LoadEventsInput) (LoadOutput, error) {
		return LoadOutput{}, errTransient
	}
	r := executeSync(t, env, f)

	require.Equal(t, StatusPartialSuccess, r.Status)
	require.Len(t, f.called(ActivityLoadEvents), LoadMaximumAttempts, "retried with backoff, a bounded number of times")
	require.Equal(t, []string{"loading events: store unavailable"}, r.Errors)
	require.Contains(t, r.Tables, TableResult{Table: ReportEvents, Group: GroupEventType, Error: "store unavailable"})
	require.Len(t, f.called(ActivityMaterialize), 1, "identity loaded, so the views are materialized")
	require.Equal(t, int64(35), r.Rows)
}

func TestSyncMaterializeSkippedWhenIdentityFails(t *testing.T) {
	env, f := newSyncEnv(t)
	f.loadIdentity = func(in LoadInput) (LoadOutput, error) {
		if in.Table == TableProfileTraitsUpdates {
			// It loaded two chunks, then hit a type it cannot evolve.
			return LoadOutput{}, temporal.NewNonRetryableApplicationError("column plan: cannot widen bool to int", ErrTypeBadConfig, nil,
				LoadOutput{Table: in.Table, Rows: 4})
		}
		return LoadOutput{Table: in.Table, Rows: 10}, nil
	}
	r := executeSync(t, env, f)

	require.Equal(t, StatusPartialSuccess, r.Status)
	require.Len(t, f.called(ActivityLoadIdentity), 3, "a config error is not retried")
	require.Empty(t, f.called(ActivityMaterialize))
	require.Equal(t, []string{
		"loading profile_traits_updates: column plan: cannot widen bool to int",
		"materialize skipped: an identity load failed",
	}, r.Errors)
	require.Equal(t, TableResult{Table: TableProfileTraitsUpdates, Group: GroupIdentity, Rows: 4, Error: "column plan: cannot widen bool to int"}, r.Tables[2])
	require.Equal(t, int64(10+10+4+6), r.Rows)
}

func TestSyncMaterializeFailure(t *testing.T) {
	env, f := newSyncEnv(t)
	f.materialize = func(MaterializeInput) (LoadOutput, error) {
		return LoadOutput{}, errNotRetryable
	}
	r := executeSync(t, env, f)
	require.Equal(t, StatusPartialSuccess, r.Status)
	require.Equal(t, []string{"materializing: bad settings"}, r.Errors)
	require.Contains(t, r.Tables, TableResult{Table: ReportMaterialize, Group: GroupIdentity, Error: "bad settings"})
}

func TestSyncFailedWhenNothingLoads(t *testing.T) {
	env, f := newSyncEnv(t)
	f.loadIdentity = func(LoadInput) (LoadOutput, error) { return LoadOutput{}, errNotRetryable }
	f.loadEvents = func(LoadEventsInput) (LoadOutput, error) { return LoadOutput{}, errNotRetryable }
	r := executeSync(t, env, f)

	require.Equal(t, StatusFailed, r.Status)
	require.Zero(t, r.Rows)
	require.Len(t, r.Errors, 5)
	require.Len(t, r.Tables, 4)
	for _, tr := range r.Tables {
		require.Equal(t, "bad settings", tr.Error)
	}
}

func TestSyncFailedConnectionTest(t *testing.T) {
	env, f := newSyncEnv(t)
	f.testConnection = failingTest
	r := executeSync(t, env, f)

	require.Equal(t, StatusFailed, r.Status)
	require.Equal(t, []string{`connection test: connect: password authentication failed for user "loader"`}, r.Errors)
	require.Empty(t, r.Tables)
	require.Equal(t, []string{ActivityTestConnection, ActivityRecordReport}, f.names())
}

func TestSyncSignalFailureIgnored(t *testing.T) {
	env, f := newEnv(t, syncID)
	env.OnSignalExternalWorkflow(mock.Anything, WarehouseWorkflowID(wh), "", SignalSyncFinished, mock.Anything).
		Return(temporal.NewApplicationError("workflow not found", "UnknownExternalWorkflowExecution"))
	r := executeSync(t, env, f)
	require.Equal(t, StatusSuccess, r.Status)
}

func TestSyncErrorMessagesAreBounded(t *testing.T) {
	env, f := newSyncEnv(t)
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	f.loadEvents = func(LoadEventsInput) (LoadOutput, error) {
		return LoadOutput{}, temporal.NewNonRetryableApplicationError(string(long), ErrTypeBadConfig, nil)
	}
	r := executeSync(t, env, f)
	for _, e := range r.Errors {
		require.LessOrEqual(t, len(e), MaxErrorLength)
	}
}

func TestSyncRequiresWarehouse(t *testing.T) {
	env, _ := newSyncEnv(t)
	env.ExecuteWorkflow(SyncWorkflow, SyncInput{})
	require.ErrorContains(t, env.GetWorkflowError(), "warehouse id is required")
}

func TestTableGroup(t *testing.T) {
	for table, group := range map[string]string{
		"id_graph_updates": GroupIdentity, "profile_merges": GroupIdentity, "user_traits": GroupIdentity,
		"tracks": GroupEventType, "identifies": GroupEventType, "pages": GroupEventType,
		"order_completed": GroupEvent, "signed_up": GroupEvent,
	} {
		require.Equal(t, group, TableGroup(table), table)
	}
}

func TestReportIDTellsRunsApart(t *testing.T) {
	// Two runs of one schedule action a few milliseconds apart: the run ids
	// are UUIDv7 and share their leading timestamp characters.
	a := SyncReport{WorkflowID: "sync-wh1-2026-11-28T12:00:00Z", RunID: "01a22309-4716-7b0d-b357-692c7cd98a2e"}
	b := SyncReport{WorkflowID: "sync-wh1-2026-11-28T12:00:00Z", RunID: "01a22309-48f1-7c22-9d01-0c4b5e6f7a8b"}
	require.NotEqual(t, a.ID(), b.ID())
	require.Equal(t, "sync-wh1-2026-11-28T12:00:00Z~01a22309-4716-7b0d-b357-692c7cd98a2e", a.ID())
	require.Equal(t, a.ID(), SyncSummary{WorkflowID: a.WorkflowID, RunID: a.RunID}.ID())
	require.Equal(t, "x", ReportID("x", ""))
}
