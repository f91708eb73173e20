package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// fakeActivities stands in for the activities package: one method per
// activity name, with the contract's signatures (the assertion below fails to
// compile if they drift). The unit tests register it on the test environment,
// the dev-server tests on a real worker. Hooks replace the default behaviour;
// every call is recorded.
type fakeActivities struct {
	mu    sync.Mutex
	calls []fakeCall

	testConnection  func(TestInput) (TestResult, error)
	schedule        func(name string, in any) error
	plan            Plan
	loadIdentity    func(LoadInput) (LoadOutput, error)
	loadEvents      func(LoadEventsInput) (LoadOutput, error)
	materialize     func(MaterializeInput) (LoadOutput, error)
	eventRange      Range
	loadEventsRange func(LoadRangeInput) (LoadOutput, error)
	// heartbeats makes each load heartbeat this many times.
	heartbeats int
}

var _ Activities = (*fakeActivities)(nil)

type fakeCall struct {
	Name string
	In   any
}

func newFake() *fakeActivities {
	return &fakeActivities{plan: Plan{UptoSeq: 500, UptoPos: 900, FirstSync: true, EventsAfter: 100}}
}

func (f *fakeActivities) record(name string, in any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{name, in})
}

// called returns the inputs of the calls of one activity, in order.
func (f *fakeActivities) called(name string) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ins []any
	for _, c := range f.calls {
		if c.Name == name {
			ins = append(ins, c.In)
		}
	}
	return ins
}

// names returns the activity names called, in order.
func (f *fakeActivities) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ns []string
	for _, c := range f.calls {
		ns = append(ns, c.Name)
	}
	return ns
}

func (f *fakeActivities) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeActivities) heartbeat(ctx context.Context) {
	for i := range f.heartbeats {
		activity.RecordHeartbeat(ctx, i)
	}
}

func (f *fakeActivities) TestConnection(_ context.Context, in TestInput) (TestResult, error) {
	f.record(ActivityTestConnection, in)
	f.mu.Lock()
	fn := f.testConnection
	f.mu.Unlock()
	if fn != nil {
		return fn(in)
	}
	return passingTest(), nil
}

func (f *fakeActivities) SetWarehouseState(_ context.Context, in StateInput) error {
	f.record(ActivitySetWarehouseState, in)
	return nil
}

func (f *fakeActivities) scheduleOp(name string, in any) error {
	f.record(name, in)
	f.mu.Lock()
	fn := f.schedule
	f.mu.Unlock()
	if fn != nil {
		return fn(name, in)
	}
	return nil
}

func (f *fakeActivities) EnsureSchedule(_ context.Context, in ScheduleInput) error {
	return f.scheduleOp(ActivityEnsureSchedule, in)
}

func (f *fakeActivities) PauseSchedule(_ context.Context, in ScheduleRef) error {
	return f.scheduleOp(ActivityPauseSchedule, in)
}

func (f *fakeActivities) UnpauseSchedule(_ context.Context, in ScheduleRef) error {
	return f.scheduleOp(ActivityUnpauseSchedule, in)
}

func (f *fakeActivities) TriggerSchedule(_ context.Context, in ScheduleRef) error {
	return f.scheduleOp(ActivityTriggerSchedule, in)
}

func (f *fakeActivities) DeleteSchedule(_ context.Context, in ScheduleRef) error {
	return f.scheduleOp(ActivityDeleteSchedule, in)
}

func (f *fakeActivities) DeleteWarehouse(_ context.Context, in WarehouseRef) error {
	return f.scheduleOp(ActivityDeleteWarehouse, in)
}

func (f *fakeActivities) PlanSync(_ context.Context, in PlanInput) (Plan, error) {
	f.record(ActivityPlanSync, in)
	return f.plan, nil
}

func (f *fakeActivities) PrepareSchema(_ context.Context, in WarehouseRef) error {
	f.record(ActivityPrepareSchema, in)
	return nil
}

func (f *fakeActivities) LoadIdentity(ctx context.Context, in LoadInput) (LoadOutput, error) {
	f.record(ActivityLoadIdentity, in)
	f.heartbeat(ctx)
	if f.loadIdentity != nil {
		return f.loadIdentity(in)
	}
	return LoadOutput{Table: in.Table, Rows: 10}, nil
}

func (f *fakeActivities) LoadEvents(ctx context.Context, in LoadEventsInput) (LoadOutput, error) {
	f.record(ActivityLoadEvents, in)
	f.heartbeat(ctx)
	if f.loadEvents != nil {
		return f.loadEvents(in)
	}
	return LoadOutput{Rows: 6, Tables: map[string]int64{"tracks": 3, "order_completed": 2, "identifies": 1}}, nil
}

func (f *fakeActivities) Materialize(ctx context.Context, in MaterializeInput) (LoadOutput, error) {
	f.record(ActivityMaterialize, in)
	f.heartbeat(ctx)
	if f.materialize != nil {
		return f.materialize(in)
	}
	return LoadOutput{Rows: 5, Tables: map[string]int64{"id_graph": 2, "user_traits": 3}}, nil
}

func (f *fakeActivities) EventRange(_ context.Context, in RangeInput) (Range, error) {
	f.record(ActivityEventRange, in)
	return f.eventRange, nil
}

func (f *fakeActivities) LoadEventsRange(ctx context.Context, in LoadRangeInput) (LoadOutput, error) {
	f.record(ActivityLoadEventsRange, in)
	f.heartbeat(ctx)
	if f.loadEventsRange != nil {
		return f.loadEventsRange(in)
	}
	n := in.Upto - in.After
	return LoadOutput{Rows: n, Tables: map[string]int64{"tracks": n}}, nil
}

func (f *fakeActivities) RecordReport(_ context.Context, in SyncReport) error {
	f.record(ActivityRecordReport, in)
	return nil
}

func passingTest() TestResult {
	var steps []Step
	for _, s := range []string{"connect", "create_schema", "create_table", "write_read", "clean_up"} {
		steps = append(steps, Step{Name: s, OK: true, DurationMS: 3})
	}
	return TestResult{OK: true, Steps: steps}
}

// failingTest fails at connect the way the real activity does.
func failingTest(TestInput) (TestResult, error) {
	res := TestResult{
		Steps:      []Step{{Name: "connect", Error: "password authentication failed for user \"loader\"", DurationMS: 12}},
		FailedStep: "connect",
		Error:      "connect: password authentication failed for user \"loader\"",
	}
	return TestResult{}, temporal.NewNonRetryableApplicationError(res.Error, ErrTypeConnectionTestFailed, nil, res)
}

var (
	errTransient    = errors.New("store unavailable")
	errNotRetryable = temporal.NewNonRetryableApplicationError("bad settings", ErrTypeBadConfig, nil)
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// newEnv returns a test environment with the workflows and the fake
// activities registered.
func newEnv(t *testing.T, workflowID string) (*testsuite.TestWorkflowEnvironment, *fakeActivities) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	// The tests provoke activity errors on purpose; their assertions say
	// what matters, so the SDK's logs are dropped.
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	// The 1 s deadlock detector trips on a loaded machine under -race.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	env.SetStartTime(t0)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID})
	Register(env)
	f := newFake()
	env.RegisterActivity(f)
	return env, f
}

// outcome is what became of an update sent in a test.
type outcome struct {
	done     bool
	rejected error // refused by the validator
	err      error // accepted, then failed
	value    any
}

func sendUpdate(env *testsuite.TestWorkflowEnvironment, name string, arg any) *outcome {
	o := &outcome{}
	env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { o.done, o.rejected = true, err },
		OnComplete: func(v any, err error) {
			o.done, o.value, o.err = true, v, err
		},
	}, arg)
	return o
}

// requireAccepted fails unless the update was accepted and succeeded.
func requireAccepted(t *testing.T, o *outcome) {
	t.Helper()
	require.True(t, o.done, "update did not finish")
	require.NoError(t, o.rejected, "update rejected")
	require.NoError(t, o.err, "update failed")
}

// requireRejected fails unless the validator refused the update with an
// ApplicationError of errType.
func requireRejected(t *testing.T, o *outcome, errType string) {
	t.Helper()
	require.True(t, o.done, "update did not finish")
	require.Error(t, o.rejected, "update was not rejected (err %v)", o.err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, o.rejected, &appErr)
	require.Equal(t, errType, appErr.Type(), "rejection: %v", o.rejected)
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) WarehouseState {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	require.NoError(t, err)
	var st WarehouseState
	require.NoError(t, v.Get(&st))
	return st
}

// continuedInput decodes the input of the next run from a continue-as-new.
func continuedInput(t *testing.T, err error, workflowType string, in any) {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	require.Equal(t, workflowType, can.WorkflowType.Name)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, in))
}

var (
	staff  = Actor{Name: "sam", Role: RoleStaff}
	admin  = Actor{Name: "ada", Role: RoleAdmin}
	viewer = Actor{Name: "vic", Role: RoleViewer}
)
