package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// SetWarehouseState mirrors the lifecycle state and schedule into the
// store's warehouse record (see workflows.Activities).
func (a *Activities) SetWarehouseState(ctx context.Context, in workflows.StateInput) error {
	w, err := a.warehouseRecord(ctx, in.WarehouseID)
	if err != nil {
		return err
	}
	if w.State == in.State && w.Schedule == in.Schedule {
		return nil
	}
	w.State, w.Schedule = in.State, in.Schedule
	err = a.Store.UpdateWarehouse(ctx, w)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("warehouse %s does not exist", in.WarehouseID), workflows.ErrTypeNotFound, nil)
	}
	if err != nil {
		return fmt.Errorf("updating warehouse %s: %w", in.WarehouseID, err)
	}
	a.logger().Info("warehouse state recorded", "activity", workflows.ActivitySetWarehouseState,
		"warehouse_id", in.WarehouseID, "state", in.State)
	return nil
}

// DeleteWarehouse deletes the warehouse record and its credentials; a
// missing record is fine (see workflows.Activities).
func (a *Activities) DeleteWarehouse(ctx context.Context, in workflows.WarehouseRef) error {
	if in.WarehouseID == "" {
		return temporal.NewNonRetryableApplicationError("warehouse id is required", workflows.ErrTypeBadConfig, nil)
	}
	err := a.Store.DeleteWarehouse(ctx, in.WarehouseID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("deleting warehouse %s: %w", in.WarehouseID, err)
	}
	a.logger().Info("warehouse deleted", "activity", workflows.ActivityDeleteWarehouse,
		"warehouse_id", in.WarehouseID, "existed", err == nil)
	return nil
}

// RecordReport stores the report of a run (see workflows.Activities). As a
// last line of defence it removes the warehouse's secret from the error
// messages, should one ever carry it.
func (a *Activities) RecordReport(ctx context.Context, in workflows.SyncReport) error {
	if in.WorkflowID == "" {
		return temporal.NewNonRetryableApplicationError("report without a workflow id", workflows.ErrTypeBadConfig, nil)
	}
	secret := ""
	if rec, err := a.Store.GetWarehouse(ctx, in.WarehouseID); err == nil {
		// Best effort: a deleted warehouse or a worker without the master
		// key has no secret to look for.
		secret, _ = a.secret(ctx, rec)
	}
	run := store.SyncRun{
		ID:          in.ID(),
		WarehouseID: in.WarehouseID,
		Kind:        in.Kind,
		Status:      in.Status,
		StartedAt:   in.StartedAt,
		Duration:    max(in.Duration(), 0),
		Rows:        in.Rows,
	}
	for _, t := range in.Tables {
		run.Tables = append(run.Tables, store.TableResult{Table: t.Table, Group: t.Group, Rows: t.Rows, Error: scrub(t.Error, secret)})
	}
	for _, e := range in.Errors {
		run.Errors = append(run.Errors, scrub(e, secret))
	}
	if err := a.Store.RecordSyncRun(ctx, run); err != nil {
		return fmt.Errorf("recording the report of %s: %w", in.WorkflowID, err)
	}
	a.logger().Info("sync report recorded", "activity", workflows.ActivityRecordReport, "warehouse_id", in.WarehouseID,
		"workflow_id", in.WorkflowID, "status", in.Status, "rows", in.Rows, "tables", len(in.Tables), "errors", len(in.Errors))
	return nil
}

// PlanSync fixes the cut a sync loads up to and where its events start (see
// workflows.Activities).
func (a *Activities) PlanSync(ctx context.Context, in workflows.PlanInput) (workflows.Plan, error) {
	w, err := a.openWarehouse(ctx, in.WarehouseID)
	if err != nil {
		return workflows.Plan{}, err
	}
	defer w.close(a)
	pos, err := a.Store.ResolverPosition(ctx, w.record.SpaceID)
	if err != nil {
		return workflows.Plan{}, fmt.Errorf("reading the resolver position of space %s: %w", w.record.SpaceID, err)
	}
	wm, err := w.Watermark(ctx, workflows.StreamEvents)
	if err != nil {
		// A warehouse never prepared has no watermarks table yet: create
		// the bookkeeping tables (idempotent) and read again.
		if err2 := w.EnsureSchema(ctx); err2 != nil {
			return workflows.Plan{}, w.fail(ctx, "reading the events watermark", err)
		}
		if wm, err = w.Watermark(ctx, workflows.StreamEvents); err != nil {
			return workflows.Plan{}, w.fail(ctx, "reading the events watermark", err)
		}
	}
	plan := workflows.Plan{UptoSeq: pos.LastSeq, UptoPos: pos.Pos, FirstSync: wm == 0}
	if plan.FirstSync {
		lookback := in.EventsLookback
		if lookback <= 0 {
			lookback = workflows.DefaultEventsLookback
		}
		after, err := a.Store.EventPosAt(ctx, w.record.SpaceID, a.now().Add(-lookback))
		if err != nil {
			return workflows.Plan{}, fmt.Errorf("finding the first event of the lookback: %w", err)
		}
		plan.EventsAfter = min(after, plan.UptoPos)
	}
	a.logger().Info("sync planned", "activity", workflows.ActivityPlanSync, "warehouse_id", in.WarehouseID,
		"space_id", w.record.SpaceID, "upto_seq", plan.UptoSeq, "upto_pos", plan.UptoPos,
		"first_sync", plan.FirstSync, "events_after", plan.EventsAfter, "events_watermark", wm)
	return plan, nil
}

// PrepareSchema creates the warehouse schema, the bookkeeping tables, the
// change-log tables and the six event type tables if missing (see
// workflows.Activities).
func (a *Activities) PrepareSchema(ctx context.Context, in workflows.WarehouseRef) error {
	w, err := a.openWarehouse(ctx, in.WarehouseID)
	if err != nil {
		return err
	}
	defer w.close(a)
	if err := w.EnsureSchema(ctx); err != nil {
		return w.fail(ctx, "creating the schema", err)
	}
	tables := adapters.IdentityTables()
	for _, name := range adapters.EventTypeTables() {
		tables = append(tables, adapters.EventTable(name))
	}
	for _, t := range tables {
		if err := w.EnsureTable(ctx, t); err != nil {
			return w.fail(ctx, "creating table "+t.Name, err)
		}
	}
	a.logger().Info("schema prepared", "activity", workflows.ActivityPrepareSchema, "warehouse_id", in.WarehouseID, "tables", len(tables))
	return nil
}

// EventRange returns the inbox positions of the events received in
// [in.From, in.To) (see workflows.Activities).
func (a *Activities) EventRange(ctx context.Context, in workflows.RangeInput) (workflows.Range, error) {
	w, err := a.warehouseRecord(ctx, in.WarehouseID)
	if err != nil {
		return workflows.Range{}, err
	}
	if in.To.Before(in.From) {
		return workflows.Range{}, temporal.NewNonRetryableApplicationError("the range ends before it starts", workflows.ErrTypeBadConfig, nil)
	}
	after, err := a.Store.EventPosAt(ctx, w.SpaceID, in.From)
	if err != nil {
		return workflows.Range{}, fmt.Errorf("finding the events of the range: %w", err)
	}
	upto, err := a.Store.EventPosAt(ctx, w.SpaceID, in.To)
	if err != nil {
		return workflows.Range{}, fmt.Errorf("finding the events of the range: %w", err)
	}
	r := workflows.Range{After: after, Upto: max(upto, after)}
	a.logger().Info("event range found", "activity", workflows.ActivityEventRange, "warehouse_id", in.WarehouseID,
		"after", r.After, "upto", r.Upto)
	return r, nil
}
