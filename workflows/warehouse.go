package workflows

import (
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// MaxRejectReasonLength bounds the reason of a rejection.
const MaxRejectReasonLength = 1000

// WarehouseWorkflow is the entity workflow of one warehouse, with workflow id
// WarehouseWorkflowID(warehouseID). It runs as long as the warehouse exists.
//
// Lifecycle: testing → awaiting_approval (test passed) or test_failed (a
// retest after the admin fixed the settings goes back to testing);
// awaiting_approval → enabled (approve, by staff: creates the sync schedule
// and starts the first sync) or rejected (reject, by staff); enabled ⇄
// disabled (disable pauses the schedule, enable unpauses it); disabled,
// rejected or test_failed → deleting → deleted (delete removes the schedule,
// then the record and its credentials, and completes the workflow).
//
// Commands are Updates whose validators check the actor's role and the state
// (refused updates leave no trace in the history); the "state" query returns
// WarehouseState. Every transition is mirrored into the store
// (SetWarehouseState) and into the WarehouseState search attribute. Handlers
// run one at a time. When the server suggests it, the workflow continues as
// new with its state in WarehouseInput.State.
func WarehouseWorkflow(ctx workflow.Context, in WarehouseInput) (WarehouseState, error) {
	if in.WarehouseID == "" {
		return WarehouseState{}, temporal.NewNonRetryableApplicationError("warehouse id is required", ErrTypeBadConfig, nil)
	}
	w := &warehouse{in: in}
	if in.State != nil {
		w.st = *in.State
	} else {
		if w.in.Schedule == "" {
			w.in.Schedule = DefaultSchedule
		}
		if err := ValidateSchedule(w.in.Schedule); err != nil {
			return WarehouseState{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidArgument, nil)
		}
		w.st = WarehouseState{State: StateTesting, Schedule: strings.TrimSpace(w.in.Schedule)}
	}
	w.in.State = nil
	if w.in.EventsLookback <= 0 {
		w.in.EventsLookback = DefaultEventsLookback
	}
	ctx = workflow.WithActivityOptions(ctx, controlOptions())
	w.mu = workflow.NewMutex(ctx)

	if err := w.registerHandlers(ctx); err != nil {
		return w.st, err
	}
	// The main loop is the only receiver of the signal channel: a signal
	// handed to a receiver blocked in another coroutine would be lost if the
	// workflow continued as new before that coroutine ran.
	syncFinished := workflow.GetSignalChannel(ctx, SignalSyncFinished)
	drainSignals := func() {
		for {
			var s SyncSummary
			if !syncFinished.ReceiveAsync(&s) {
				return
			}
			w.onSyncFinished(s)
		}
	}

	if err := workflow.UpsertTypedSearchAttributes(ctx,
		WarehouseIDKey.ValueSet(w.in.WarehouseID),
		SpaceIDKey.ValueSet(w.in.SpaceID),
		WarehouseStateKey.ValueSet(w.st.State),
	); err != nil {
		return w.st, err
	}

	if in.State == nil || w.st.State == StateTesting {
		// A new warehouse: mirror "testing", then run the first test. (A run
		// continued in "testing" cannot happen, since continue-as-new waits
		// for handlers; it is handled the same way for safety.)
		if err := w.mu.Lock(ctx); err != nil {
			return w.st, err
		}
		w.transition(ctx, StateTesting, Actor{})
		w.runTest(ctx, Actor{})
		w.mu.Unlock()
	}

	done := func() bool {
		return w.st.State == StateDeleted || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
	}
	for !done() {
		if err := workflow.Await(ctx, func() bool { return syncFinished.Len() > 0 || done() }); err != nil {
			return w.st, err
		}
		drainSignals()
	}
	// Let running handlers finish, whether we complete or continue as new,
	// then take the signals that arrived meanwhile.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.st, err
	}
	drainSignals()
	if w.st.State == StateDeleted {
		return w.st, nil
	}
	next := w.in
	st := w.st
	next.State = &st
	return w.st, workflow.NewContinueAsNewError(ctx, WarehouseWorkflowType, next)
}

type warehouse struct {
	in WarehouseInput
	st WarehouseState
	mu workflow.Mutex // serializes handlers that change the state
}

func (w *warehouse) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (WarehouseState, error) {
		return w.st, nil
	}, workflow.QueryHandlerOptions{Description: "The warehouse's lifecycle state, schedule, last test and last sync."}); err != nil {
		return err
	}
	handlers := []struct {
		name, desc         string
		handler, validator any
	}{
		{UpdateApprove, "Staff approve a tested warehouse: creates its sync schedule and starts the first sync.", w.approve, w.validateApprove},
		{UpdateReject, "Staff reject a tested warehouse.", w.reject, w.validateReject},
		{UpdateDisable, "Pause the sync schedule; credentials are kept.", w.disable, w.validateDisable},
		{UpdateEnable, "Unpause the sync schedule.", w.enable, w.validateEnable},
		{UpdateDelete, "Delete the schedule, the warehouse record and its credentials; completes the workflow.", w.delete, w.validateDelete},
		{UpdateRetest, "Run the connection test again (after the settings were corrected).", w.retest, w.validateRetest},
		{UpdateSetSchedule, "Change the sync schedule (an interval of at least 15m, or a cron spec).", w.setSchedule, w.validateSetSchedule},
		{UpdateBackfill, "Reload the events of a time window; returns the backfill workflow id.", w.backfill, w.validateBackfill},
		{UpdateSyncNow, "Start a sync now.", w.syncNow, w.validateSyncNow},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{
			Validator:   h.validator,
			Description: h.desc,
		}); err != nil {
			return err
		}
	}
	return nil
}

// Validators: they check the actor's role and the current state, and change
// nothing. Handlers check the state again once they hold the lock, since
// another handler may have changed it in between.

func (w *warehouse) validateApprove(_ workflow.Context, a Actor) error {
	if err := requireRole(a, RoleStaff); err != nil {
		return err
	}
	return w.requireState(UpdateApprove, StateAwaitingApproval)
}

func (w *warehouse) validateReject(_ workflow.Context, in RejectInput) error {
	if err := requireRole(in.Actor, RoleStaff); err != nil {
		return err
	}
	if len(in.Reason) > MaxRejectReasonLength {
		return invalidArgument("the reason is longer than %d bytes", MaxRejectReasonLength)
	}
	return w.requireState(UpdateReject, StateAwaitingApproval)
}

func (w *warehouse) validateDisable(_ workflow.Context, a Actor) error {
	if err := requireRole(a, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	return w.requireState(UpdateDisable, StateEnabled)
}

func (w *warehouse) validateEnable(_ workflow.Context, a Actor) error {
	if err := requireRole(a, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	return w.requireState(UpdateEnable, StateDisabled)
}

var deletableStates = []string{StateDisabled, StateRejected, StateTestFailed, StateDeleting}

func (w *warehouse) validateDelete(_ workflow.Context, a Actor) error {
	if err := requireRole(a, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	return w.requireState(UpdateDelete, deletableStates...)
}

var retestStates = []string{StateTestFailed, StateAwaitingApproval, StateEnabled, StateDisabled}

func (w *warehouse) validateRetest(_ workflow.Context, a Actor) error {
	if err := requireRole(a, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	return w.requireState(UpdateRetest, retestStates...)
}

var scheduleStates = []string{StateTesting, StateTestFailed, StateAwaitingApproval, StateEnabled, StateDisabled}

func (w *warehouse) validateSetSchedule(_ workflow.Context, in ScheduleChange) error {
	if err := requireRole(in.Actor, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	if err := ValidateSchedule(in.Schedule); err != nil {
		return temporal.NewApplicationError(err.Error(), ErrTypeInvalidArgument)
	}
	return w.requireState(UpdateSetSchedule, scheduleStates...)
}

func (w *warehouse) validateBackfill(ctx workflow.Context, in BackfillRequest) error {
	if err := requireRole(in.Actor, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	switch {
	case in.From.IsZero() || in.To.IsZero():
		return invalidArgument("a backfill needs a from and a to time")
	case !in.From.Before(in.To):
		return invalidArgument("the backfill window is empty: from %s is not before to %s", in.From.UTC(), in.To.UTC())
	case !in.From.Before(workflow.Now(ctx)):
		return invalidArgument("the backfill window starts in the future")
	}
	return w.requireState(UpdateBackfill, StateEnabled)
}

func (w *warehouse) validateSyncNow(_ workflow.Context, a Actor) error {
	if err := requireRole(a, RoleAdmin, RoleStaff); err != nil {
		return err
	}
	return w.requireState(UpdateSyncNow, StateEnabled)
}

func requireRole(a Actor, roles ...string) error {
	if a.Name == "" {
		return temporal.NewApplicationError("the actor has no name", ErrTypeForbidden)
	}
	if !slices.Contains(roles, a.Role) {
		return temporal.NewApplicationError(fmt.Sprintf("role %q may not do this; it needs %s", a.Role, strings.Join(roles, " or ")), ErrTypeForbidden)
	}
	return nil
}

func (w *warehouse) requireState(update string, states ...string) error {
	if slices.Contains(states, w.st.State) {
		return nil
	}
	return temporal.NewApplicationError(fmt.Sprintf("%s is not allowed while the warehouse is %s (only when %s)", update, w.st.State, strings.Join(states, ", ")), ErrTypeInvalidState)
}

func invalidArgument(format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidArgument)
}

func operationFailed(what string, err error) error {
	return temporal.NewApplicationError(what+": "+errMessage(err), ErrTypeOperationFailed)
}

// Handlers.

func (w *warehouse) approve(ctx workflow.Context, a Actor) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateApprove, StateAwaitingApproval)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	if err := w.ensureSchedule(ctx, false, true, "approved by "+a.Name); err != nil {
		return w.st, operationFailed("creating the sync schedule", err)
	}
	w.st.ApprovedBy = a.Name
	w.st.ApprovedAt = workflow.Now(ctx)
	w.transition(ctx, StateEnabled, a)
	return w.st, nil
}

func (w *warehouse) reject(ctx workflow.Context, in RejectInput) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateReject, StateAwaitingApproval)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	w.st.RejectedBy = in.Actor.Name
	w.st.RejectReason = in.Reason
	w.transition(ctx, StateRejected, in.Actor)
	return w.st, nil
}

func (w *warehouse) disable(ctx workflow.Context, a Actor) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateDisable, StateEnabled)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	ref := ScheduleRef{WarehouseID: w.in.WarehouseID, Note: "disabled by " + a.Name}
	if err := workflow.ExecuteActivity(ctx, ActivityPauseSchedule, ref).Get(ctx, nil); err != nil {
		return w.st, operationFailed("pausing the sync schedule", err)
	}
	w.transition(ctx, StateDisabled, a)
	return w.st, nil
}

func (w *warehouse) enable(ctx workflow.Context, a Actor) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateEnable, StateDisabled)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	ref := ScheduleRef{WarehouseID: w.in.WarehouseID, Note: "enabled by " + a.Name}
	if err := workflow.ExecuteActivity(ctx, ActivityUnpauseSchedule, ref).Get(ctx, nil); err != nil {
		return w.st, operationFailed("unpausing the sync schedule", err)
	}
	w.transition(ctx, StateEnabled, a)
	return w.st, nil
}

func (w *warehouse) delete(ctx workflow.Context, a Actor) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateDelete, deletableStates...)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	// "deleting" is mirrored first, so a delete that fails half way is
	// visible, and can be retried from there.
	w.transition(ctx, StateDeleting, a)
	ref := ScheduleRef{WarehouseID: w.in.WarehouseID, Note: "deleted by " + a.Name}
	if err := workflow.ExecuteActivity(ctx, ActivityDeleteSchedule, ref).Get(ctx, nil); err != nil {
		return w.st, operationFailed("deleting the sync schedule", err)
	}
	if err := workflow.ExecuteActivity(ctx, ActivityDeleteWarehouse, WarehouseRef{WarehouseID: w.in.WarehouseID}).Get(ctx, nil); err != nil {
		return w.st, operationFailed("deleting the warehouse record and credentials", err)
	}
	// The record is gone, so "deleted" lives only in the workflow and its
	// search attribute.
	w.setState(ctx, StateDeleted, a)
	return w.st, nil
}

func (w *warehouse) retest(ctx workflow.Context, a Actor) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateRetest, retestStates...)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	if w.st.State == StateTestFailed || w.st.State == StateAwaitingApproval {
		w.transition(ctx, StateTesting, a)
		w.runTest(ctx, a)
		return w.st, nil
	}
	// Enabled or disabled: record the result; the state stays (every sync
	// tests the connection itself).
	w.st.LastTest = w.test(ctx)
	w.touch(ctx, a)
	return w.st, nil
}

func (w *warehouse) setSchedule(ctx workflow.Context, in ScheduleChange) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateSetSchedule, scheduleStates...)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	prev := w.st.Schedule
	w.st.Schedule = strings.TrimSpace(in.Schedule)
	if w.st.State == StateEnabled || w.st.State == StateDisabled {
		if err := w.ensureSchedule(ctx, w.st.State == StateDisabled, false, "schedule changed by "+in.Actor.Name); err != nil {
			w.st.Schedule = prev
			return w.st, operationFailed("updating the sync schedule", err)
		}
	}
	w.transition(ctx, w.st.State, in.Actor)
	return w.st, nil
}

func (w *warehouse) backfill(ctx workflow.Context, in BackfillRequest) (string, error) {
	ctx, err := w.begin(ctx, UpdateBackfill, StateEnabled)
	if err != nil {
		return "", err
	}
	defer w.mu.Unlock()
	id := BackfillWorkflowID(w.in.WarehouseID, in.From, in.To, in.Tables...)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, BackfillWorkflowType, BackfillInput{
		WarehouseID: w.in.WarehouseID,
		From:        in.From.UTC(),
		To:          in.To.UTC(),
		Tables:      in.Tables,
	})
	var exec workflow.Execution
	if err := child.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
		return "", operationFailed("starting the backfill "+id, err)
	}
	w.touch(ctx, in.Actor)
	return exec.ID, nil
}

func (w *warehouse) syncNow(ctx workflow.Context, a Actor) (WarehouseState, error) {
	ctx, err := w.begin(ctx, UpdateSyncNow, StateEnabled)
	if err != nil {
		return w.st, err
	}
	defer w.mu.Unlock()
	ref := ScheduleRef{WarehouseID: w.in.WarehouseID, Note: "sync now by " + a.Name}
	if err := workflow.ExecuteActivity(ctx, ActivityTriggerSchedule, ref).Get(ctx, nil); err != nil {
		return w.st, operationFailed("triggering a sync", err)
	}
	w.touch(ctx, a)
	return w.st, nil
}

// onSyncFinished records the summary of a finished sync, unless a later one
// is already recorded.
func (w *warehouse) onSyncFinished(s SyncSummary) {
	if w.st.LastSync != nil && s.FinishedAt.Before(w.st.LastSync.FinishedAt) {
		return
	}
	w.st.LastSync = &s
}

// Helpers.

// begin starts a handler: it takes the lock and checks the state again, since
// another handler may have changed it after the validator ran. On success the
// caller must Unlock. The returned context carries the control activity
// options (handlers get the root context, without the main function's).
func (w *warehouse) begin(ctx workflow.Context, update string, states ...string) (workflow.Context, error) {
	ctx = workflow.WithActivityOptions(ctx, controlOptions())
	if err := w.mu.Lock(ctx); err != nil {
		return ctx, err
	}
	if err := w.requireState(update, states...); err != nil {
		w.mu.Unlock()
		return ctx, err
	}
	return ctx, nil
}

// runTest runs the connection test and moves to awaiting_approval or
// test_failed. The caller holds the lock and has moved to testing.
func (w *warehouse) runTest(ctx workflow.Context, a Actor) {
	w.st.LastTest = w.test(ctx)
	if w.st.LastTest.OK {
		w.transition(ctx, StateAwaitingApproval, a)
	} else {
		w.transition(ctx, StateTestFailed, a)
	}
}

// test runs TestConnection and turns its outcome, failures included, into a
// TestResult.
func (w *warehouse) test(ctx workflow.Context) *TestResult {
	return testConnection(workflow.WithActivityOptions(ctx, testOptions()), w.in.WarehouseID)
}

func testConnection(ctx workflow.Context, warehouseID string) *TestResult {
	var res TestResult
	err := workflow.ExecuteActivity(ctx, ActivityTestConnection, TestInput{WarehouseID: warehouseID}).Get(ctx, &res)
	if err != nil {
		res = TestResult{}
		var d TestResult
		if errorDetails(err, &d) {
			res.Steps = d.Steps
			res.FailedStep = d.FailedStep
		}
		res.OK = false
		res.Error = errMessage(err)
	} else if !res.OK && res.Error == "" {
		res.Error = "the connection test failed"
	}
	if !res.OK && res.FailedStep == "" {
		res.FailedStep = failedStep(res)
	}
	if res.OK {
		res.FailedStep, res.Error = "", ""
	}
	for i := range res.Steps {
		res.Steps[i].Error = truncate(res.Steps[i].Error, MaxErrorLength)
	}
	res.TestedAt = workflow.Now(ctx)
	return &res
}

// failedStep names the failed step of a result that does not: the first
// failed step, or the "step: ..." prefix of the error message.
func failedStep(res TestResult) string {
	for _, s := range res.Steps {
		if !s.OK {
			return s.Name
		}
	}
	if step, _, ok := strings.Cut(res.Error, ": "); ok && !strings.ContainsAny(step, " \t") {
		return step
	}
	return ""
}

func (w *warehouse) ensureSchedule(ctx workflow.Context, paused, trigger bool, note string) error {
	return workflow.ExecuteActivity(ctx, ActivityEnsureSchedule, ScheduleInput{
		WarehouseID:        w.in.WarehouseID,
		Spec:               w.st.Schedule,
		Paused:             paused,
		TriggerImmediately: trigger,
		EventsLookback:     w.in.EventsLookback,
		Note:               note,
	}).Get(ctx, nil)
}

// transition moves to state (or records a change within it) and mirrors it
// into the store and the search attribute.
func (w *warehouse) transition(ctx workflow.Context, state string, a Actor) {
	w.setState(ctx, state, a)
	err := workflow.ExecuteActivity(ctx, ActivitySetWarehouseState, StateInput{
		WarehouseID: w.in.WarehouseID,
		State:       w.st.State,
		Schedule:    w.st.Schedule,
	}).Get(ctx, nil)
	if err != nil {
		// The workflow is the source of truth; the next transition mirrors
		// again.
		workflow.GetLogger(ctx).Warn("mirroring the warehouse state into the store failed",
			"state", w.st.State, "error", errMessage(err))
	}
}

// setState moves to state and updates the search attribute, without
// mirroring into the store.
func (w *warehouse) setState(ctx workflow.Context, state string, a Actor) {
	changed := w.st.State != state
	w.st.State = state
	w.touch(ctx, a)
	if changed {
		if err := workflow.UpsertTypedSearchAttributes(ctx, WarehouseStateKey.ValueSet(state)); err != nil {
			workflow.GetLogger(ctx).Warn("upserting the WarehouseState search attribute failed", "error", err)
		}
	}
}

func (w *warehouse) touch(ctx workflow.Context, a Actor) {
	w.st.UpdatedAt = workflow.Now(ctx)
	w.st.UpdatedBy = a.Name
}
