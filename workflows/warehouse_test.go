package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

const wh = "wh1"

func newWarehouseEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeActivities) {
	return newEnv(t, WarehouseWorkflowID(wh))
}

var whInput = WarehouseInput{WarehouseID: wh, SpaceID: "space1"}

// at schedules fn at minute n of the test.
func at(env *testsuite.TestWorkflowEnvironment, n int, fn func()) {
	env.RegisterDelayedCallback(fn, time.Duration(n)*time.Minute)
}

// mirrored returns the states SetWarehouseState was called with.
func mirrored(f *fakeActivities) []string {
	var states []string
	for _, in := range f.called(ActivitySetWarehouseState) {
		states = append(states, in.(StateInput).State)
	}
	return states
}

func TestApproveByStaff(t *testing.T) {
	env, f := newWarehouseEnv(t)
	var before, after WarehouseState
	var approve *outcome
	at(env, 1, func() { before = queryState(t, env) })
	at(env, 2, func() { approve = sendUpdate(env, UpdateApprove, staff) })
	at(env, 3, func() { after = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	require.Equal(t, StateAwaitingApproval, before.State)
	require.True(t, before.LastTest.OK)
	require.Len(t, before.LastTest.Steps, 5)
	requireAccepted(t, approve)
	require.Equal(t, StateEnabled, after.State)
	require.Equal(t, "sam", after.ApprovedBy)
	require.Equal(t, "sam", after.UpdatedBy)
	require.Equal(t, t0.Add(2*time.Minute), after.ApprovedAt)
	require.Equal(t, DefaultSchedule, after.Schedule)

	require.Equal(t, []any{ScheduleInput{
		WarehouseID: wh, Spec: "1h", Paused: false, TriggerImmediately: true,
		EventsLookback: 60 * 24 * time.Hour, Note: "approved by sam",
	}}, f.called(ActivityEnsureSchedule))
	require.Equal(t, []string{StateTesting, StateAwaitingApproval, StateEnabled}, mirrored(f))
	require.Equal(t, StateInput{WarehouseID: wh, State: StateEnabled, Schedule: "1h"}, f.called(ActivitySetWarehouseState)[2])
}

func TestApproveRefusedForNonStaff(t *testing.T) {
	env, f := newWarehouseEnv(t)
	var byAdmin, byViewer, noName *outcome
	var st WarehouseState
	at(env, 1, func() {
		byAdmin = sendUpdate(env, UpdateApprove, admin)
		byViewer = sendUpdate(env, UpdateApprove, viewer)
		noName = sendUpdate(env, UpdateApprove, Actor{Role: RoleStaff})
	})
	at(env, 2, func() { st = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	requireRejected(t, byAdmin, ErrTypeForbidden)
	requireRejected(t, byViewer, ErrTypeForbidden)
	requireRejected(t, noName, ErrTypeForbidden)
	require.Equal(t, StateAwaitingApproval, st.State)
	require.Empty(t, st.ApprovedBy)
	require.Empty(t, f.called(ActivityEnsureSchedule))
}

func TestReject(t *testing.T) {
	env, f := newWarehouseEnv(t)
	var rejectByAdmin, reject, approveAfter, del *outcome
	var st WarehouseState
	at(env, 1, func() {
		rejectByAdmin = sendUpdate(env, UpdateReject, RejectInput{Actor: admin, Reason: "no"})
		reject = sendUpdate(env, UpdateReject, RejectInput{Actor: staff, Reason: "not a production account"})
	})
	at(env, 2, func() {
		st = queryState(t, env)
		approveAfter = sendUpdate(env, UpdateApprove, staff)
	})
	at(env, 3, func() { del = sendUpdate(env, UpdateDelete, admin) })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	requireRejected(t, rejectByAdmin, ErrTypeForbidden)
	requireAccepted(t, reject)
	require.Equal(t, StateRejected, st.State)
	require.Equal(t, "sam", st.RejectedBy)
	require.Equal(t, "not a production account", st.RejectReason)
	requireRejected(t, approveAfter, ErrTypeInvalidState)
	requireAccepted(t, del)

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var final WarehouseState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, StateDeleted, final.State)
	require.Empty(t, f.called(ActivityEnsureSchedule))
	require.Equal(t, []string{StateTesting, StateAwaitingApproval, StateRejected, StateDeleting}, mirrored(f))
	require.Len(t, f.called(ActivityDeleteWarehouse), 1)
}

func TestFailingTestThenRetestAfterFix(t *testing.T) {
	env, f := newWarehouseEnv(t)
	f.testConnection = failingTest
	var failed, passed, enabled WarehouseState
	var approveEarly, retestByViewer, retest, approve *outcome
	at(env, 1, func() {
		failed = queryState(t, env)
		approveEarly = sendUpdate(env, UpdateApprove, staff)
		retestByViewer = sendUpdate(env, UpdateRetest, viewer)
	})
	at(env, 2, func() {
		// The admin API stores the corrected password, then sends retest.
		f.set(func() { f.testConnection = nil })
		retest = sendUpdate(env, UpdateRetest, admin)
	})
	at(env, 3, func() {
		passed = queryState(t, env)
		approve = sendUpdate(env, UpdateApprove, staff)
	})
	at(env, 4, func() { enabled = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	require.Equal(t, StateTestFailed, failed.State)
	require.False(t, failed.LastTest.OK)
	require.Equal(t, "connect", failed.LastTest.FailedStep)
	require.Equal(t, `connect: password authentication failed for user "loader"`, failed.LastTest.Error)
	require.Len(t, failed.LastTest.Steps, 1)
	require.Equal(t, t0, failed.LastTest.TestedAt)
	// The failed step is not retried: it is an answer, not an outage.
	require.Len(t, f.called(ActivityTestConnection), 2)

	requireRejected(t, approveEarly, ErrTypeInvalidState)
	requireRejected(t, retestByViewer, ErrTypeForbidden)
	requireAccepted(t, retest)
	require.Equal(t, StateAwaitingApproval, passed.State)
	require.True(t, passed.LastTest.OK)
	require.Empty(t, passed.LastTest.FailedStep)
	requireAccepted(t, approve)
	require.Equal(t, StateEnabled, enabled.State)
	require.Equal(t, []string{StateTesting, StateTestFailed, StateTesting, StateAwaitingApproval, StateEnabled}, mirrored(f))
}

func TestTestConnectionOutageBecomesFailedTest(t *testing.T) {
	env, f := newWarehouseEnv(t)
	f.testConnection = func(TestInput) (TestResult, error) {
		return TestResult{}, errTransient
	}
	var st WarehouseState
	at(env, 10, func() { st = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	require.Equal(t, StateTestFailed, st.State)
	require.Equal(t, "store unavailable", st.LastTest.Error)
	require.Len(t, f.called(ActivityTestConnection), 3, "retried up to the test policy's attempts")
}

func approveAt(env *testsuite.TestWorkflowEnvironment, minute int) {
	at(env, minute, func() { sendUpdate(env, UpdateApprove, staff) })
}

func TestDisableEnableDelete(t *testing.T) {
	env, f := newWarehouseEnv(t)
	o := map[string]*outcome{}
	var disabled, enabled WarehouseState
	approveAt(env, 1)
	at(env, 2, func() {
		o["delete while enabled"] = sendUpdate(env, UpdateDelete, admin)
		o["enable while enabled"] = sendUpdate(env, UpdateEnable, admin)
		o["disable by viewer"] = sendUpdate(env, UpdateDisable, viewer)
	})
	at(env, 3, func() { o["disable"] = sendUpdate(env, UpdateDisable, admin) })
	at(env, 4, func() {
		disabled = queryState(t, env)
		o["enable by viewer"] = sendUpdate(env, UpdateEnable, viewer)
		o["enable"] = sendUpdate(env, UpdateEnable, staff)
	})
	at(env, 5, func() {
		enabled = queryState(t, env)
		o["disable again"] = sendUpdate(env, UpdateDisable, admin)
	})
	at(env, 6, func() {
		o["delete by viewer"] = sendUpdate(env, UpdateDelete, viewer)
		o["delete"] = sendUpdate(env, UpdateDelete, admin)
	})
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	requireRejected(t, o["delete while enabled"], ErrTypeInvalidState)
	requireRejected(t, o["enable while enabled"], ErrTypeInvalidState)
	requireRejected(t, o["disable by viewer"], ErrTypeForbidden)
	requireAccepted(t, o["disable"])
	require.Equal(t, StateDisabled, disabled.State)
	requireRejected(t, o["enable by viewer"], ErrTypeForbidden)
	requireAccepted(t, o["enable"])
	require.Equal(t, StateEnabled, enabled.State)
	requireAccepted(t, o["disable again"])
	requireRejected(t, o["delete by viewer"], ErrTypeForbidden)
	requireAccepted(t, o["delete"])

	require.True(t, env.IsWorkflowCompleted())
	var final WarehouseState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, StateDeleted, final.State)
	require.Equal(t, "ada", final.UpdatedBy)

	require.Equal(t, []any{
		ScheduleRef{WarehouseID: wh, Note: "disabled by ada"},
		ScheduleRef{WarehouseID: wh, Note: "disabled by ada"},
	}, f.called(ActivityPauseSchedule))
	require.Equal(t, []any{ScheduleRef{WarehouseID: wh, Note: "enabled by sam"}}, f.called(ActivityUnpauseSchedule))
	require.Equal(t, []any{ScheduleRef{WarehouseID: wh, Note: "deleted by ada"}}, f.called(ActivityDeleteSchedule))
	require.Equal(t, []any{WarehouseRef{WarehouseID: wh}}, f.called(ActivityDeleteWarehouse))
	// The schedule goes before the record and its credentials.
	names := f.names()
	require.Equal(t, []string{ActivityDeleteSchedule, ActivityDeleteWarehouse}, names[len(names)-2:])
	require.Equal(t, []string{StateTesting, StateAwaitingApproval, StateEnabled, StateDisabled, StateEnabled, StateDisabled, StateDeleting}, mirrored(f))
}

func TestDeleteFailureLeavesDeletingAndCanBeRetried(t *testing.T) {
	env, f := newWarehouseEnv(t)
	f.schedule = func(name string, _ any) error {
		if name == ActivityDeleteWarehouse {
			return errNotRetryable
		}
		return nil
	}
	var first, second *outcome
	var st WarehouseState
	approveAt(env, 1)
	at(env, 2, func() { sendUpdate(env, UpdateDisable, admin) })
	at(env, 3, func() { first = sendUpdate(env, UpdateDelete, admin) })
	at(env, 4, func() {
		st = queryState(t, env)
		f.set(func() { f.schedule = nil })
		second = sendUpdate(env, UpdateDelete, admin)
	})
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	require.True(t, first.done)
	require.NoError(t, first.rejected)
	require.ErrorContains(t, first.err, "deleting the warehouse record and credentials: bad settings")
	require.Equal(t, StateDeleting, st.State)
	requireAccepted(t, second)
	var final WarehouseState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, StateDeleted, final.State)
	require.Len(t, f.called(ActivityDeleteSchedule), 2, "deleting the schedule is idempotent and repeated")
}

func TestDeleteAfterFailedTest(t *testing.T) {
	env, f := newWarehouseEnv(t)
	f.testConnection = failingTest
	var del *outcome
	at(env, 1, func() { del = sendUpdate(env, UpdateDelete, admin) })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)
	requireAccepted(t, del)
	require.True(t, env.IsWorkflowCompleted())
	require.Len(t, f.called(ActivityDeleteWarehouse), 1)
}

func TestSetSchedule(t *testing.T) {
	env, f := newWarehouseEnv(t)
	o := map[string]*outcome{}
	var pending, enabled, disabled WarehouseState
	change := func(a Actor, spec string) ScheduleChange { return ScheduleChange{Actor: a, Schedule: spec} }
	at(env, 1, func() {
		o["before approval"] = sendUpdate(env, UpdateSetSchedule, change(admin, "2h"))
	})
	at(env, 2, func() {
		pending = queryState(t, env)
		sendUpdate(env, UpdateApprove, staff)
	})
	at(env, 3, func() {
		o["5m"] = sendUpdate(env, UpdateSetSchedule, change(admin, "5m"))
		o["garbage"] = sendUpdate(env, UpdateSetSchedule, change(admin, "every now and then"))
		o["cron every 5"] = sendUpdate(env, UpdateSetSchedule, change(admin, "*/5 * * * *"))
		o["viewer"] = sendUpdate(env, UpdateSetSchedule, change(viewer, "30m"))
		o["30m"] = sendUpdate(env, UpdateSetSchedule, change(admin, "30m"))
	})
	at(env, 4, func() {
		o["cron"] = sendUpdate(env, UpdateSetSchedule, change(staff, "15 */2 * * MON-FRI"))
	})
	at(env, 5, func() {
		enabled = queryState(t, env)
		sendUpdate(env, UpdateDisable, admin)
	})
	at(env, 6, func() { o["disabled"] = sendUpdate(env, UpdateSetSchedule, change(admin, "@daily")) })
	at(env, 7, func() { disabled = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	requireAccepted(t, o["before approval"])
	require.Equal(t, "2h", pending.Schedule)
	requireRejected(t, o["5m"], ErrTypeInvalidArgument)
	require.ErrorContains(t, o["5m"].rejected, "shorter than the minimum of 15m")
	requireRejected(t, o["garbage"], ErrTypeInvalidArgument)
	requireRejected(t, o["cron every 5"], ErrTypeInvalidArgument)
	requireRejected(t, o["viewer"], ErrTypeForbidden)
	requireAccepted(t, o["30m"])
	requireAccepted(t, o["cron"])
	require.Equal(t, "15 */2 * * MON-FRI", enabled.Schedule)
	requireAccepted(t, o["disabled"])
	require.Equal(t, "@daily", disabled.Schedule)
	require.Equal(t, StateDisabled, disabled.State)

	var specs []string
	var paused []bool
	for _, in := range f.called(ActivityEnsureSchedule) {
		specs = append(specs, in.(ScheduleInput).Spec)
		paused = append(paused, in.(ScheduleInput).Paused)
		if len(specs) > 1 {
			require.False(t, in.(ScheduleInput).TriggerImmediately)
		}
	}
	// Approval creates the schedule with the spec set before it; changes
	// update it, keeping a disabled warehouse's schedule paused.
	require.Equal(t, []string{"2h", "30m", "15 */2 * * MON-FRI", "@daily"}, specs)
	require.Equal(t, []bool{false, false, false, true}, paused)
}

func TestSyncNow(t *testing.T) {
	env, f := newWarehouseEnv(t)
	var early, byViewer, now *outcome
	at(env, 1, func() { early = sendUpdate(env, UpdateSyncNow, admin) })
	approveAt(env, 2)
	at(env, 3, func() {
		byViewer = sendUpdate(env, UpdateSyncNow, viewer)
		now = sendUpdate(env, UpdateSyncNow, admin)
	})
	at(env, 4, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	requireRejected(t, early, ErrTypeInvalidState)
	requireRejected(t, byViewer, ErrTypeForbidden)
	requireAccepted(t, now)
	require.Equal(t, []any{ScheduleRef{WarehouseID: wh, Note: "sync now by ada"}}, f.called(ActivityTriggerSchedule))
}

func TestScheduleFailureKeepsState(t *testing.T) {
	env, f := newWarehouseEnv(t)
	f.schedule = func(string, any) error { return errNotRetryable }
	var approve *outcome
	var st WarehouseState
	at(env, 1, func() { approve = sendUpdate(env, UpdateApprove, staff) })
	at(env, 2, func() { st = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	require.NoError(t, approve.rejected)
	require.ErrorContains(t, approve.err, "creating the sync schedule: bad settings")
	require.Equal(t, StateAwaitingApproval, st.State)
	require.Empty(t, st.ApprovedBy)
}

func TestBackfillStartsChild(t *testing.T) {
	env, f := newWarehouseEnv(t)
	f.eventRange = Range{After: 10, Upto: 30}
	from, to := t0.Add(-30*24*time.Hour), t0.Add(-20*24*time.Hour)
	o := map[string]*outcome{}
	var childID string
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childID = info.WorkflowExecution.ID
	})
	at(env, 1, func() {
		o["before approval"] = sendUpdate(env, UpdateBackfill, BackfillRequest{Actor: admin, From: from, To: to})
	})
	approveAt(env, 2)
	at(env, 3, func() {
		o["viewer"] = sendUpdate(env, UpdateBackfill, BackfillRequest{Actor: viewer, From: from, To: to})
		o["empty window"] = sendUpdate(env, UpdateBackfill, BackfillRequest{Actor: admin, From: to, To: from})
		o["future"] = sendUpdate(env, UpdateBackfill, BackfillRequest{Actor: admin, From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)})
		o["backfill"] = sendUpdate(env, UpdateBackfill, BackfillRequest{Actor: admin, From: from, To: to})
	})
	at(env, 10, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	requireRejected(t, o["before approval"], ErrTypeInvalidState)
	requireRejected(t, o["viewer"], ErrTypeForbidden)
	requireRejected(t, o["empty window"], ErrTypeInvalidArgument)
	requireRejected(t, o["future"], ErrTypeInvalidArgument)
	requireAccepted(t, o["backfill"])
	wantID := "backfill-wh1-20261029T120000Z-20261108T120000Z"
	require.Equal(t, wantID, BackfillWorkflowID(wh, from, to))
	require.Equal(t, wantID, o["backfill"].value)
	require.Equal(t, wantID, childID)

	// The child ran: it ranged the window and loaded under its own stream.
	require.Equal(t, []any{RangeInput{WarehouseID: wh, From: from, To: to}}, f.called(ActivityEventRange))
	require.Equal(t, []any{LoadRangeInput{WarehouseID: wh, After: 10, Upto: 30, Stream: wantID}}, f.called(ActivityLoadEventsRange))
	reports := f.called(ActivityRecordReport)
	require.Len(t, reports, 1)
	require.Equal(t, KindBackfill, reports[0].(SyncReport).Kind)
	require.Equal(t, int64(20), reports[0].(SyncReport).Rows)
}

func TestSyncFinishedSignalUpdatesLastSync(t *testing.T) {
	env, _ := newWarehouseEnv(t)
	newer := SyncSummary{WorkflowID: "sync-wh1-2026-11-28T13:00:00Z", Status: StatusSuccess, Rows: 42, StartedAt: t0.Add(time.Hour), FinishedAt: t0.Add(61 * time.Minute)}
	older := SyncSummary{WorkflowID: "sync-wh1-2026-11-28T12:00:00Z", Status: StatusFailed, StartedAt: t0, FinishedAt: t0.Add(time.Minute)}
	var st WarehouseState
	approveAt(env, 1)
	at(env, 2, func() { env.SignalWorkflow(SignalSyncFinished, newer) })
	at(env, 3, func() { env.SignalWorkflow(SignalSyncFinished, older) })
	at(env, 4, func() { st = queryState(t, env); env.CancelWorkflow() })
	env.ExecuteWorkflow(WarehouseWorkflow, whInput)

	require.Equal(t, &newer, st.LastSync)
	require.Equal(t, StateEnabled, st.State)
}

func TestWarehouseContinueAsNewCarriesState(t *testing.T) {
	env, f := newWarehouseEnv(t)
	// Schedule changes take 5 minutes, so the server's suggestion comes while
	// an update is running.
	env.OnActivity(ActivityEnsureSchedule, mock.Anything, mock.Anything).After(5 * time.Minute).Return(nil)
	summary := SyncSummary{WorkflowID: "sync-wh1-x", Status: StatusPartialSuccess, Rows: 7, StartedAt: t0, FinishedAt: t0.Add(time.Minute)}
	var change *outcome
	approveAt(env, 1) // done at 6
	at(env, 7, func() { env.SignalWorkflow(SignalSyncFinished, summary) })
	at(env, 8, func() {
		change = sendUpdate(env, UpdateSetSchedule, ScheduleChange{Actor: admin, Schedule: "30m"})
	})
	// The workflow waits for the running update, then continues as new.
	at(env, 10, func() { env.SetContinueAsNewSuggested(true) })
	env.ExecuteWorkflow(WarehouseWorkflow, WarehouseInput{WarehouseID: wh, SpaceID: "space1", EventsLookback: 24 * time.Hour})

	requireAccepted(t, change)
	require.True(t, env.IsWorkflowCompleted())
	var next WarehouseInput
	continuedInput(t, env.GetWorkflowError(), WarehouseWorkflowType, &next)
	require.Equal(t, wh, next.WarehouseID)
	require.Equal(t, "space1", next.SpaceID)
	require.Equal(t, 24*time.Hour, next.EventsLookback)
	require.NotNil(t, next.State)
	require.Equal(t, StateEnabled, next.State.State)
	require.Equal(t, "30m", next.State.Schedule)
	require.Equal(t, "sam", next.State.ApprovedBy)
	require.Equal(t, &summary, next.State.LastSync)
	require.True(t, next.State.LastTest.OK)
	testCalls := len(f.called(ActivityTestConnection))

	// The next run picks up where this one stopped: no new test, same
	// state, and it keeps working.
	env2, f2 := newWarehouseEnv(t)
	var st WarehouseState
	var disable *outcome
	at(env2, 1, func() {
		st = queryState(t, env2)
		disable = sendUpdate(env2, UpdateDisable, admin)
	})
	at(env2, 2, func() { env2.CancelWorkflow() })
	env2.ExecuteWorkflow(WarehouseWorkflow, next)
	require.Equal(t, 1, testCalls)
	require.Empty(t, f2.called(ActivityTestConnection))
	require.Equal(t, *next.State, st)
	requireAccepted(t, disable)
	require.Equal(t, []any{ScheduleRef{WarehouseID: wh, Note: "disabled by ada"}}, f2.called(ActivityPauseSchedule))
}

func TestWarehouseInvalidInput(t *testing.T) {
	env, _ := newWarehouseEnv(t)
	env.ExecuteWorkflow(WarehouseWorkflow, WarehouseInput{WarehouseID: wh, Schedule: "1m"})
	require.ErrorContains(t, env.GetWorkflowError(), "shorter than the minimum")

	env, _ = newWarehouseEnv(t)
	env.ExecuteWorkflow(WarehouseWorkflow, WarehouseInput{})
	require.ErrorContains(t, env.GetWorkflowError(), "warehouse id is required")
}
