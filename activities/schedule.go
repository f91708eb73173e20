package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/workflows"
)

// errTypeSchedule is the type of retryable schedule errors.
const errTypeSchedule = "ScheduleError"

// Catch-up windows of the sync schedule: about one interval, within these
// bounds (a server refuses less than 10 s).
const (
	minCatchupWindow = time.Minute
	maxCatchupWindow = 24 * time.Hour
	// cronCatchupFallback is used for a cron spec whose period cannot be
	// worked out.
	cronCatchupFallback = time.Hour
)

// EnsureSchedule creates the sync schedule of a warehouse or brings it up to
// date (see workflows.Activities).
func (a *Activities) EnsureSchedule(ctx context.Context, in workflows.ScheduleInput) error {
	sc, err := a.scheduleClient()
	if err != nil {
		return err
	}
	if in.WarehouseID == "" {
		return temporal.NewNonRetryableApplicationError("warehouse id is required", workflows.ErrTypeBadConfig, nil)
	}
	parsed, err := workflows.ParseSchedule(in.Spec)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("sync schedule: "+err.Error(), workflows.ErrTypeBadConfig, nil)
	}
	id := workflows.SyncScheduleID(in.WarehouseID)
	spec := scheduleSpec(parsed)
	action := a.syncAction(in)
	catchup := catchupWindow(parsed, a.now())
	log := a.logger().With("activity", workflows.ActivityEnsureSchedule, "warehouse_id", in.WarehouseID, "schedule_id", id)

	_, err = sc.Create(ctx, client.ScheduleOptions{
		ID:                 id,
		Spec:               spec,
		Action:             action,
		Overlap:            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow:      catchup,
		Paused:             in.Paused,
		Note:               in.Note,
		TriggerImmediately: in.TriggerImmediately,
	})
	if err == nil {
		log.Info("sync schedule created", "paused", in.Paused, "triggered", in.TriggerImmediately)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return scheduleError("creating the sync schedule", err)
	}
	h := sc.GetHandle(ctx, id)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := u.Description.Schedule
		s.Spec = &spec
		s.Action = action
		if s.Policy == nil {
			s.Policy = &client.SchedulePolicies{}
		}
		s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
		s.Policy.CatchupWindow = catchup
		if s.State == nil {
			s.State = &client.ScheduleState{}
		}
		s.State.Paused = in.Paused
		if in.Note != "" {
			s.State.Note = in.Note
		}
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return scheduleError("updating the sync schedule", err)
	}
	if in.TriggerImmediately {
		if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE}); err != nil {
			return scheduleError("triggering the sync schedule", err)
		}
	}
	log.Info("sync schedule updated", "paused", in.Paused, "triggered", in.TriggerImmediately)
	return nil
}

// PauseSchedule pauses the sync schedule (see workflows.Activities).
func (a *Activities) PauseSchedule(ctx context.Context, in workflows.ScheduleRef) error {
	return a.onSchedule(ctx, workflows.ActivityPauseSchedule, in, func(h client.ScheduleHandle) error {
		return h.Pause(ctx, client.SchedulePauseOptions{Note: in.Note})
	})
}

// UnpauseSchedule unpauses the sync schedule (see workflows.Activities).
func (a *Activities) UnpauseSchedule(ctx context.Context, in workflows.ScheduleRef) error {
	return a.onSchedule(ctx, workflows.ActivityUnpauseSchedule, in, func(h client.ScheduleHandle) error {
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: in.Note})
	})
}

// TriggerSchedule starts a sync now through the schedule, after the running
// one if any (see workflows.Activities).
func (a *Activities) TriggerSchedule(ctx context.Context, in workflows.ScheduleRef) error {
	return a.onSchedule(ctx, workflows.ActivityTriggerSchedule, in, func(h client.ScheduleHandle) error {
		return h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE})
	})
}

// DeleteSchedule deletes the sync schedule; a missing one is fine (see
// workflows.Activities).
func (a *Activities) DeleteSchedule(ctx context.Context, in workflows.ScheduleRef) error {
	err := a.onSchedule(ctx, workflows.ActivityDeleteSchedule, in, func(h client.ScheduleHandle) error {
		return h.Delete(ctx)
	})
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeNotFound {
		return nil
	}
	return err
}

// onSchedule runs op on the warehouse's sync schedule. A missing schedule
// is a non-retryable NotFound error.
func (a *Activities) onSchedule(ctx context.Context, activityName string, in workflows.ScheduleRef, op func(client.ScheduleHandle) error) error {
	sc, err := a.scheduleClient()
	if err != nil {
		return err
	}
	if in.WarehouseID == "" {
		return temporal.NewNonRetryableApplicationError("warehouse id is required", workflows.ErrTypeBadConfig, nil)
	}
	id := workflows.SyncScheduleID(in.WarehouseID)
	if err := op(sc.GetHandle(ctx, id)); err != nil {
		return scheduleError(activityName, err)
	}
	a.logger().Info("sync schedule changed", "activity", activityName, "warehouse_id", in.WarehouseID, "schedule_id", id)
	return nil
}

func (a *Activities) scheduleClient() (client.ScheduleClient, error) {
	if a.Temporal == nil {
		return nil, temporal.NewNonRetryableApplicationError("the worker has no Temporal client for schedules", workflows.ErrTypeBadConfig, nil)
	}
	return a.Temporal.ScheduleClient(), nil
}

// syncAction is the schedule's action: a SyncWorkflow of the warehouse on
// the worker's task queue, findable by its WarehouseID search attribute.
func (a *Activities) syncAction(in workflows.ScheduleInput) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        workflows.SyncScheduleID(in.WarehouseID),
		Workflow:  workflows.SyncWorkflowType,
		Args:      []any{workflows.SyncInput{WarehouseID: in.WarehouseID, EventsLookback: in.EventsLookback}},
		TaskQueue: a.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WarehouseIDKey.ValueSet(in.WarehouseID),
		),
	}
}

// scheduleSpec is the Temporal spec of a parsed sync schedule, in UTC.
func scheduleSpec(s workflows.Schedule) client.ScheduleSpec {
	spec := client.ScheduleSpec{TimeZoneName: "UTC"}
	if s.Interval > 0 {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: s.Interval}}
	} else {
		spec.CronExpressions = []string{s.Cron}
	}
	return spec
}

// catchupWindow is about one period of the schedule: a run missed by less
// than that (a server restart) still starts, older ones are skipped.
func catchupWindow(s workflows.Schedule, now time.Time) time.Duration {
	period := s.Interval
	if period == 0 {
		period = cronCatchupFallback
		if sched, err := cron.ParseStandard(s.Cron); err == nil {
			next := sched.Next(now.UTC())
			if after := sched.Next(next); !next.IsZero() && after.After(next) {
				period = after.Sub(next)
			}
		}
	}
	return min(max(period, minCatchupWindow), maxCatchupWindow)
}

// scheduleError maps an error of the schedule API: a missing schedule is a
// non-retryable NotFound error, anything else is retried.
func scheduleError(what string, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: the sync schedule does not exist", what), workflows.ErrTypeNotFound, nil)
	}
	return temporal.NewApplicationError(what+": "+err.Error(), errTypeSchedule)
}
