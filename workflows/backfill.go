package workflows

import (
	"fmt"
	"maps"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// BackfillWorkflow reloads the events of a warehouse received in [From, To),
// started as a child of WarehouseWorkflow with id BackfillWorkflowID.
//
// The first run prepares the schema and turns the window into inbox positions
// (EventRange); then it loads them chunk by chunk (ChunkSize positions per
// LoadEventsRange), in order. It continues as new after
// BackfillChunksPerRun chunks or when the server suggests it, carrying Next,
// Upto and the progress, so its history stays small however long the window.
//
// The chunks are loaded under the backfill's own watermark stream (its
// workflow id), never the sync's "events" stream: it can run beside the
// scheduled syncs (rows merge by id, so an event both load lands once), and a
// rerun of the same window resumes where the last one stopped. It stops at
// the first chunk that fails. The report (kind backfill) is recorded at the
// end, after the last run.
func BackfillWorkflow(ctx workflow.Context, in BackfillInput) (SyncReport, error) {
	if in.WarehouseID == "" {
		return SyncReport{}, temporal.NewNonRetryableApplicationError("warehouse id is required", ErrTypeBadConfig, nil)
	}
	if in.ChunkSize <= 0 {
		in.ChunkSize = DefaultBackfillChunkSize
	}
	rb := newReport(ctx, in.WarehouseID, KindBackfill)
	first := in.Progress == nil
	progress := BackfillProgress{StartedAt: rb.report.StartedAt}
	if !first {
		progress = *in.Progress
		progress.Tables = maps.Clone(in.Progress.Tables)
		rb.report.StartedAt = progress.StartedAt
	}
	progress.Runs++
	if first {
		if err := workflow.UpsertTypedSearchAttributes(ctx,
			WarehouseIDKey.ValueSet(in.WarehouseID),
			SyncStatusKey.ValueSet(StatusRunning),
			SyncRowsKey.ValueSet(0),
		); err != nil {
			return SyncReport{}, err
		}
	}

	stream := workflow.GetInfo(ctx).WorkflowExecution.ID
	pctx := workflow.WithActivityOptions(ctx, prepareOptions())
	lctx := workflow.WithActivityOptions(ctx, loadOptions())
	ok := true
	if first && in.Upto == 0 {
		ok = rangeBackfill(pctx, &in, rb)
	}
	// Rows from earlier runs count as one succeeded step.
	if progress.Chunks > 0 {
		rb.loaded(LoadOutput{Tables: progress.Tables})
	}

	chunks := 0
	for ok && in.Next < in.Upto {
		if chunks > 0 && (chunks >= BackfillChunksPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			next := in
			next.Progress = &progress
			return SyncReport{}, workflow.NewContinueAsNewError(ctx, BackfillWorkflowType, next)
		}
		upto := min(in.Next+in.ChunkSize, in.Upto)
		var out LoadOutput
		err := workflow.ExecuteActivity(lctx, ActivityLoadEventsRange, LoadRangeInput{
			WarehouseID: in.WarehouseID,
			After:       in.Next,
			Upto:        upto,
			Stream:      stream,
			Tables:      in.Tables,
		}).Get(ctx, &out)
		if err != nil {
			rb.loadFailed(fmt.Sprintf("loading events (%d, %d]", in.Next, upto), ReportEvents, GroupEventType, err)
			break
		}
		rb.loaded(out)
		progress.add(out)
		in.Next = upto
		chunks++
	}

	report := rb.finish(ctx)
	recordReport(ctx, &report)
	return report, nil
}

// rangeBackfill prepares the schema and sets in.Next and in.Upto from the
// window. It reports whether the backfill can go on.
func rangeBackfill(ctx workflow.Context, in *BackfillInput, rb *reportBuilder) bool {
	if err := workflow.ExecuteActivity(ctx, ActivityPrepareSchema, WarehouseRef{WarehouseID: in.WarehouseID}).Get(ctx, nil); err != nil {
		rb.stepFailed("preparing the schema", errMessage(err))
		return false
	}
	var r Range
	if err := workflow.ExecuteActivity(ctx, ActivityEventRange, RangeInput{WarehouseID: in.WarehouseID, From: in.From, To: in.To}).Get(ctx, &r); err != nil {
		rb.stepFailed("finding the events of the window", errMessage(err))
		return false
	}
	in.Next, in.Upto = r.After, r.Upto
	return true
}

func (p *BackfillProgress) add(out LoadOutput) {
	p.Chunks++
	tables := out.Tables
	if len(tables) == 0 && out.Table != "" {
		tables = map[string]int64{out.Table: out.Rows}
	}
	if p.Tables == nil {
		p.Tables = map[string]int64{}
	}
	for _, name := range workflow.DeterministicKeys(tables) {
		p.Tables[name] += tables[name]
		p.Rows += tables[name]
	}
}
