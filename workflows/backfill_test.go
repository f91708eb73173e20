package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

var (
	bfFrom = t0.Add(-10 * 24 * time.Hour)
	bfTo   = t0.Add(-9 * 24 * time.Hour)
	bfID   = BackfillWorkflowID(wh, bfFrom, bfTo)
)

func newBackfillEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeActivities) {
	return newEnv(t, bfID)
}

func chunksLoaded(f *fakeActivities) []LoadRangeInput {
	var ins []LoadRangeInput
	for _, in := range f.called(ActivityLoadEventsRange) {
		ins = append(ins, in.(LoadRangeInput))
	}
	return ins
}

func backfillResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) SyncReport {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var r SyncReport
	require.NoError(t, env.GetWorkflowResult(&r))
	require.Equal(t, KindBackfill, r.Kind)
	require.Equal(t, bfID, r.WorkflowID)
	return r
}

func TestBackfillChunks(t *testing.T) {
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 100, Upto: 350}
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo, ChunkSize: 100})
	r := backfillResult(t, env)

	require.Equal(t, []any{RangeInput{WarehouseID: wh, From: bfFrom, To: bfTo}}, f.called(ActivityEventRange))
	require.Len(t, f.called(ActivityPrepareSchema), 1)
	require.Equal(t, []LoadRangeInput{
		{WarehouseID: wh, After: 100, Upto: 200, Stream: bfID},
		{WarehouseID: wh, After: 200, Upto: 300, Stream: bfID},
		{WarehouseID: wh, After: 300, Upto: 350, Stream: bfID},
	}, chunksLoaded(f))
	require.Equal(t, StatusSuccess, r.Status)
	require.Equal(t, int64(250), r.Rows)
	require.Equal(t, []TableResult{{Table: "tracks", Group: GroupEventType, Rows: 250}}, r.Tables)
	require.Equal(t, []any{r}, f.called(ActivityRecordReport))
	// Never the sync's stream.
	for _, c := range chunksLoaded(f) {
		require.NotEqual(t, StreamEvents, c.Stream)
	}
}

func TestBackfillEmptyWindow(t *testing.T) {
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 70, Upto: 70}
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo})
	r := backfillResult(t, env)
	require.Equal(t, StatusSuccess, r.Status)
	require.Zero(t, r.Rows)
	require.Empty(t, f.called(ActivityLoadEventsRange))
}

func TestBackfillContinuesAsNewAndResumes(t *testing.T) {
	const total = BackfillChunksPerRun + 50
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 0, Upto: total}
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo, ChunkSize: 1})

	require.True(t, env.IsWorkflowCompleted())
	var next BackfillInput
	continuedInput(t, env.GetWorkflowError(), BackfillWorkflowType, &next)
	require.Len(t, f.called(ActivityLoadEventsRange), BackfillChunksPerRun)
	require.Equal(t, int64(BackfillChunksPerRun), next.Next)
	require.Equal(t, int64(total), next.Upto)
	require.Equal(t, int64(1), next.ChunkSize)
	require.Equal(t, &BackfillProgress{StartedAt: t0, Rows: BackfillChunksPerRun, Tables: map[string]int64{"tracks": BackfillChunksPerRun}, Chunks: BackfillChunksPerRun, Runs: 1}, next.Progress)
	require.Empty(t, f.called(ActivityRecordReport), "the report is recorded once, at the end")

	// The next run resumes at Next without ranging again, and reports the
	// whole backfill.
	env2, f2 := newBackfillEnv(t)
	env2.SetStartTime(t0.Add(time.Hour))
	env2.ExecuteWorkflow(BackfillWorkflow, next)
	r := backfillResult(t, env2)
	require.Empty(t, f2.called(ActivityEventRange))
	require.Empty(t, f2.called(ActivityPrepareSchema))
	chunks := chunksLoaded(f2)
	require.Len(t, chunks, 50)
	require.Equal(t, LoadRangeInput{WarehouseID: wh, After: BackfillChunksPerRun, Upto: BackfillChunksPerRun + 1, Stream: bfID}, chunks[0])
	require.Equal(t, StatusSuccess, r.Status)
	require.Equal(t, int64(total), r.Rows)
	require.Equal(t, t0, r.StartedAt, "the report starts with the first run")
	require.Equal(t, t0.Add(time.Hour), r.FinishedAt)
}

func TestBackfillContinuesAsNewWhenSuggested(t *testing.T) {
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 0, Upto: 10}
	env.SetContinueAsNewSuggested(true)
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo, ChunkSize: 1})
	var next BackfillInput
	continuedInput(t, env.GetWorkflowError(), BackfillWorkflowType, &next)
	require.Len(t, f.called(ActivityLoadEventsRange), 1, "at least one chunk per run, so it always progresses")
	require.Equal(t, int64(1), next.Next)
}

func TestBackfillStopsAtFailedChunk(t *testing.T) {
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 0, Upto: 500}
	f.loadEventsRange = func(in LoadRangeInput) (LoadOutput, error) {
		if in.After == 200 {
			return LoadOutput{}, errNotRetryable
		}
		return LoadOutput{Rows: in.Upto - in.After, Tables: map[string]int64{"pages": in.Upto - in.After}}, nil
	}
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo, ChunkSize: 100})
	r := backfillResult(t, env)

	require.Len(t, chunksLoaded(f), 3)
	require.Equal(t, StatusPartialSuccess, r.Status)
	require.Equal(t, int64(200), r.Rows)
	require.Equal(t, []string{"loading events (200, 300]: bad settings"}, r.Errors)
}

func TestBackfillFailsWhenNothingLoads(t *testing.T) {
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 0, Upto: 500}
	f.loadEventsRange = func(LoadRangeInput) (LoadOutput, error) { return LoadOutput{}, errNotRetryable }
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo, ChunkSize: 100})
	r := backfillResult(t, env)
	require.Equal(t, StatusFailed, r.Status)
}

func TestBackfillOfSomeTables(t *testing.T) {
	env, f := newBackfillEnv(t)
	f.eventRange = Range{After: 0, Upto: 150}
	tables := []string{"pages", "order_completed"}
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{WarehouseID: wh, From: bfFrom, To: bfTo, ChunkSize: 100, Tables: tables})
	backfillResult(t, env)
	for _, c := range chunksLoaded(f) {
		require.Equal(t, tables, c.Tables, "every chunk is limited to the tables")
	}
	require.Len(t, chunksLoaded(f), 2)
	require.Equal(t, "backfill-wh1-20261029T120000Z-20261108T120000Z-pages-order_completed",
		BackfillWorkflowID(wh, time.Date(2026, 10, 29, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 8, 12, 0, 0, 0, time.UTC), tables...))
}
