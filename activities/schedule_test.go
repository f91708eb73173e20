package activities

import (
	"context"
	"io"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/workflows"
)

// devServer starts the pinned Temporal dev server with the search
// attributes the workflows use.
func devServer(t *testing.T) client.Client {
	t.Helper()
	cli := testenv.TemporalCLI(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{Namespace: "default", Logger: log.NewStructuredLogger(quietLogger())},
		LogLevel:      "error",
		ExtraArgs:     workflows.SearchAttributeFlags(),
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		t.Fatalf("starting the Temporal dev server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("stopping the dev server: %v", err)
		}
	})
	return srv.Client()
}

// TestSchedules runs the schedule activities against a real Temporal server.
func TestSchedules(t *testing.T) {
	c := devServer(t)
	acts := &Activities{Temporal: c, TaskQueue: "profilesync-test", Logger: quietLogger(), Now: time.Now}
	h := newHarness(t, acts)
	ctx := t.Context()
	handle := c.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID("wh1"))
	describe := func() *client.ScheduleDescription {
		t.Helper()
		d, err := handle.Describe(ctx)
		if err != nil {
			t.Fatalf("describing the schedule: %v", err)
		}
		return d
	}

	// Create.
	must[struct{}](h, acts.EnsureSchedule, workflows.ScheduleInput{
		WarehouseID: "wh1", Spec: "1h", EventsLookback: 48 * time.Hour, Note: "created by the test",
	})
	d := describe()
	if got := d.Schedule.Spec.Intervals; len(got) != 1 || got[0].Every != time.Hour {
		t.Errorf("intervals = %+v, want every hour", got)
	}
	if d.Schedule.State.Paused || d.Schedule.State.Note != "created by the test" {
		t.Errorf("state = %+v, want running with the note", d.Schedule.State)
	}
	if p := d.Schedule.Policy; p.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || p.CatchupWindow != time.Hour {
		t.Errorf("policy = %+v, want overlap skip and a one-hour catch-up window", p)
	}
	checkAction(t, d, "wh1", 48*time.Hour)

	// Update, twice with the same input: idempotent.
	for range 2 {
		must[struct{}](h, acts.EnsureSchedule, workflows.ScheduleInput{
			WarehouseID: "wh1", Spec: "*/30 * * * *", Paused: true, EventsLookback: time.Hour, Note: "paused by the test",
		})
		d = describe()
		if len(d.Schedule.Spec.Intervals) != 0 || len(d.Schedule.Spec.Calendars)+len(d.Schedule.Spec.CronExpressions) == 0 {
			t.Errorf("spec = %+v, want the cron spec instead of the interval", d.Schedule.Spec)
		}
		if !d.Schedule.State.Paused || d.Schedule.State.Note != "paused by the test" {
			t.Errorf("state = %+v, want paused with the note", d.Schedule.State)
		}
		if d.Schedule.Policy.CatchupWindow != 30*time.Minute {
			t.Errorf("catch-up window = %v, want 30m", d.Schedule.Policy.CatchupWindow)
		}
		checkAction(t, d, "wh1", time.Hour)
	}

	// Unpause and pause, twice each.
	for range 2 {
		must[struct{}](h, acts.UnpauseSchedule, workflows.ScheduleRef{WarehouseID: "wh1", Note: "enabled by ann"})
	}
	if d = describe(); d.Schedule.State.Paused || d.Schedule.State.Note != "enabled by ann" {
		t.Errorf("after unpause: state = %+v", d.Schedule.State)
	}
	for range 2 {
		must[struct{}](h, acts.PauseSchedule, workflows.ScheduleRef{WarehouseID: "wh1", Note: "disabled by bob"})
	}
	if d = describe(); !d.Schedule.State.Paused || d.Schedule.State.Note != "disabled by bob" {
		t.Errorf("after pause: state = %+v", d.Schedule.State)
	}

	// Trigger: a paused schedule still runs a triggered sync, a SyncWorkflow
	// of the warehouse on the task queue (no worker runs it here).
	must[struct{}](h, acts.TriggerSchedule, workflows.ScheduleRef{WarehouseID: "wh1"})
	d = waitActions(t, handle, 1)
	run := d.Info.RecentActions[0].StartWorkflowResult
	desc, err := c.DescribeWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID)
	if err != nil {
		t.Fatal(err)
	}
	if desc.WorkflowType.Name != workflows.SyncWorkflowType || desc.TaskQueueName != "profilesync-test" {
		t.Errorf("triggered workflow %s of type %s on %s", run.WorkflowID, desc.WorkflowType.Name, desc.TaskQueueName)
	}
	if id, _ := desc.TypedSearchAttributes.GetKeyword(workflows.WarehouseIDKey); id != "wh1" {
		t.Errorf("triggered workflow WarehouseID = %q, want wh1", id)
	}
	// With BUFFER_ONE a trigger while a sync runs waits for it: finish the
	// run, then an update with TriggerImmediately starts another.
	if err := c.TerminateWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID, "test"); err != nil {
		t.Fatal(err)
	}
	must[struct{}](h, acts.EnsureSchedule, workflows.ScheduleInput{WarehouseID: "wh1", Spec: "1h", Paused: true, TriggerImmediately: true})
	waitActions(t, handle, 2)

	// Create with TriggerImmediately.
	must[struct{}](h, acts.EnsureSchedule, workflows.ScheduleInput{WarehouseID: "wh2", Spec: "@daily", TriggerImmediately: true})
	d = waitActions(t, c.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID("wh2")), 1)
	if d.Schedule.Policy.CatchupWindow != 24*time.Hour {
		t.Errorf("daily catch-up window = %v", d.Schedule.Policy.CatchupWindow)
	}

	// Delete, twice: a missing schedule is fine.
	for range 2 {
		must[struct{}](h, acts.DeleteSchedule, workflows.ScheduleRef{WarehouseID: "wh1", Note: "deleted"})
	}
	if _, err := handle.Describe(ctx); err == nil {
		t.Errorf("the schedule still exists after DeleteSchedule")
	}
	// Pausing, unpausing or triggering a missing schedule is a NotFound.
	for _, fn := range []any{acts.PauseSchedule, acts.UnpauseSchedule, acts.TriggerSchedule} {
		_, err := run_(h, fn, workflows.ScheduleRef{WarehouseID: "wh1"})
		checkAppError(t, err, workflows.ErrTypeNotFound)
	}

	// A bad spec is BadConfig; so is a worker without a Temporal client.
	_, err = run_(h, acts.EnsureSchedule, workflows.ScheduleInput{WarehouseID: "wh3", Spec: "5m"})
	checkAppError(t, err, workflows.ErrTypeBadConfig)
	bare := newHarness(t, &Activities{Logger: quietLogger()})
	_, err = run_(bare, bare.acts.PauseSchedule, workflows.ScheduleRef{WarehouseID: "wh1"})
	checkAppError(t, err, workflows.ErrTypeBadConfig)
}

// run_ executes an activity without a result.
func run_(h *harness, fn any, in any) (struct{}, error) { return run[struct{}](h, fn, in) }

// checkAction checks the schedule's action: SyncWorkflow of the warehouse,
// with its SyncInput, workflow id and WarehouseID search attribute.
func checkAction(t *testing.T, d *client.ScheduleDescription, warehouseID string, lookback time.Duration) {
	t.Helper()
	a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		t.Fatalf("action %T, want a workflow", d.Schedule.Action)
	}
	if a.Workflow != workflows.SyncWorkflowType || a.TaskQueue != "profilesync-test" || a.ID != workflows.SyncScheduleID(warehouseID) {
		t.Errorf("action starts %v with id %s on %s", a.Workflow, a.ID, a.TaskQueue)
	}
	if len(a.Args) != 1 {
		t.Fatalf("action args %v", a.Args)
	}
	var in workflows.SyncInput
	if err := converter.GetDefaultDataConverter().FromPayload(a.Args[0].(*commonpb.Payload), &in); err != nil {
		t.Fatal(err)
	}
	if in != (workflows.SyncInput{WarehouseID: warehouseID, EventsLookback: lookback}) {
		t.Errorf("action input %+v", in)
	}
	if id, _ := a.TypedSearchAttributes.GetKeyword(workflows.WarehouseIDKey); id != warehouseID {
		t.Errorf("action WarehouseID search attribute = %q", id)
	}
}

// waitActions waits until a schedule has taken n actions.
func waitActions(t *testing.T, h client.ScheduleHandle, n int) *client.ScheduleDescription {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := h.Describe(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if d.Info.NumActions >= n && len(d.Info.RecentActions) > 0 {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedule took %d actions, want %d", d.Info.NumActions, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
