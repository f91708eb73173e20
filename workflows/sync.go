package workflows

import (
	"cmp"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// SyncHistoryBound is the most events the history of one SyncWorkflow run
// has, whatever the row count: a fixed number of activities (retries and
// heartbeats add no events) and a fixed number of workflow tasks.
// sync_history_test.go checks it against real histories.
const SyncHistoryBound = 100

// SyncWorkflow is one sync of a warehouse, started by its schedule (workflow
// id SyncScheduleID(warehouseID) plus the scheduled time).
//
// Steps: TestConnection → PlanSync (fixes the seq and position cut) →
// PrepareSchema → LoadIdentity for each change-log table and LoadEvents, all
// four concurrently → Materialize, only when every identity load succeeded →
// RecordReport → signal SignalSyncFinished to the warehouse's workflow.
//
// A failed step becomes an error in the report, never a failed workflow:
// the status is success when everything succeeded, partial_success when some
// loads failed and others succeeded, failed when nothing succeeded. The
// report is recorded in every case and returned. Search attributes
// WarehouseID, SyncStatus (running, then the status) and SyncRows are set.
func SyncWorkflow(ctx workflow.Context, in SyncInput) (SyncReport, error) {
	if in.WarehouseID == "" {
		return SyncReport{}, temporal.NewNonRetryableApplicationError("warehouse id is required", ErrTypeBadConfig, nil)
	}
	if in.EventsLookback <= 0 {
		in.EventsLookback = DefaultEventsLookback
	}
	rb := newReport(ctx, in.WarehouseID, KindSync)
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		WarehouseIDKey.ValueSet(in.WarehouseID),
		SyncStatusKey.ValueSet(StatusRunning),
		SyncRowsKey.ValueSet(0),
	); err != nil {
		return SyncReport{}, err
	}

	runSync(ctx, in, rb)

	report := rb.finish(ctx)
	recordReport(ctx, &report)
	summary := SyncSummary{
		WorkflowID: report.WorkflowID,
		RunID:      report.RunID,
		Status:     report.Status,
		Rows:       report.Rows,
		StartedAt:  report.StartedAt,
		FinishedAt: report.FinishedAt,
	}
	// The warehouse's workflow may not exist (a sync started by hand, or the
	// warehouse deleted meanwhile): that is fine.
	err := workflow.SignalExternalWorkflow(ctx, WarehouseWorkflowID(in.WarehouseID), "", SignalSyncFinished, summary).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Info("could not signal the warehouse workflow", "error", errMessage(err))
	}
	return report, nil
}

// runSync runs the steps of a sync into rb.
func runSync(ctx workflow.Context, in SyncInput, rb *reportBuilder) {
	test := testConnection(workflow.WithActivityOptions(ctx, testOptions()), in.WarehouseID)
	if !test.OK {
		rb.stepFailed("connection test", test.Error)
		return
	}

	pctx := workflow.WithActivityOptions(ctx, prepareOptions())
	var plan Plan
	if err := workflow.ExecuteActivity(pctx, ActivityPlanSync, PlanInput(in)).Get(ctx, &plan); err != nil {
		rb.stepFailed("planning", errMessage(err))
		return
	}
	if err := workflow.ExecuteActivity(pctx, ActivityPrepareSchema, WarehouseRef{WarehouseID: in.WarehouseID}).Get(ctx, nil); err != nil {
		rb.stepFailed("preparing the schema", errMessage(err))
		return
	}

	// The four loads touch different streams and tables: run them at once.
	lctx := workflow.WithActivityOptions(ctx, loadOptions())
	tables := IdentityTables()
	identity := make([]workflow.Future, len(tables))
	for i, t := range tables {
		identity[i] = workflow.ExecuteActivity(lctx, ActivityLoadIdentity, LoadInput{WarehouseID: in.WarehouseID, Table: t, UptoSeq: plan.UptoSeq})
	}
	events := workflow.ExecuteActivity(lctx, ActivityLoadEvents, LoadEventsInput{WarehouseID: in.WarehouseID, After: plan.EventsAfter, UptoPos: plan.UptoPos})

	identityOK := true
	for i, f := range identity {
		var out LoadOutput
		if err := f.Get(ctx, &out); err != nil {
			identityOK = false
			rb.loadFailed("loading "+tables[i], tables[i], GroupIdentity, err)
			continue
		}
		rb.loaded(out)
	}
	var out LoadOutput
	if err := events.Get(ctx, &out); err != nil {
		rb.loadFailed("loading events", ReportEvents, GroupEventType, err)
	} else {
		rb.loaded(out)
	}

	if !identityOK {
		rb.errors = append(rb.errors, "materialize skipped: an identity load failed")
		return
	}
	out = LoadOutput{}
	if err := workflow.ExecuteActivity(lctx, ActivityMaterialize, MaterializeInput{WarehouseID: in.WarehouseID, UptoSeq: plan.UptoSeq}).Get(ctx, &out); err != nil {
		rb.loadFailed("materializing", ReportMaterialize, GroupIdentity, err)
		return
	}
	rb.loaded(out)
}

// recordReport stores the report; if that fails the report still goes back
// as the workflow result, with the error added.
func recordReport(ctx workflow.Context, r *SyncReport) {
	rctx := workflow.WithActivityOptions(ctx, controlOptions())
	if err := workflow.ExecuteActivity(rctx, ActivityRecordReport, *r).Get(ctx, nil); err != nil {
		r.Errors = append(r.Errors, truncate("recording the report: "+errMessage(err), MaxErrorLength))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SyncStatusKey.ValueSet(r.Status),
		SyncRowsKey.ValueSet(r.Rows),
	); err != nil {
		workflow.GetLogger(ctx).Warn("upserting the sync search attributes failed", "error", err)
	}
}

// reportBuilder collects the outcome of a run's steps.
type reportBuilder struct {
	report    SyncReport
	tables    []TableResult
	index     map[string]int // table → position in tables
	errors    []string
	succeeded int // steps that succeeded
	failed    int // steps that failed
}

func newReport(ctx workflow.Context, warehouseID, kind string) *reportBuilder {
	return &reportBuilder{
		report: SyncReport{
			WorkflowID:  workflow.GetInfo(ctx).WorkflowExecution.ID,
			RunID:       workflow.GetInfo(ctx).WorkflowExecution.RunID,
			WarehouseID: warehouseID,
			Kind:        kind,
			StartedAt:   workflow.Now(ctx),
		},
		index: map[string]int{},
	}
}

// stepFailed records a step that stops the run before anything is loaded.
func (b *reportBuilder) stepFailed(step, msg string) {
	b.failed++
	b.errors = append(b.errors, truncate(step+": "+msg, MaxErrorLength))
}

// loaded records a successful load step.
func (b *reportBuilder) loaded(out LoadOutput) {
	b.succeeded++
	b.addRows(out)
}

// loadFailed records a failed load step: its error on the table (or the
// step's report row), and the rows it loaded before failing if the activity
// said so in its error details.
func (b *reportBuilder) loadFailed(step, table, group string, err error) {
	b.failed++
	msg := errMessage(err)
	b.errors = append(b.errors, truncate(step+": "+msg, MaxErrorLength))
	var partial LoadOutput
	if errorDetails(err, &partial) {
		b.addRows(partial)
	}
	t := b.table(table)
	t.Group = group
	t.Error = msg
}

func (b *reportBuilder) addRows(out LoadOutput) {
	tables := out.Tables
	if len(tables) == 0 && out.Table != "" {
		tables = map[string]int64{out.Table: out.Rows}
	}
	for _, name := range workflow.DeterministicKeys(tables) {
		b.table(name).Rows += tables[name]
	}
}

// table returns the result row of a table, adding it if needed.
func (b *reportBuilder) table(name string) *TableResult {
	i, ok := b.index[name]
	if !ok {
		i = len(b.tables)
		b.index[name] = i
		b.tables = append(b.tables, TableResult{Table: name, Group: TableGroup(name)})
	}
	return &b.tables[i]
}

// finish computes the totals and the status.
func (b *reportBuilder) finish(ctx workflow.Context) SyncReport {
	r := b.report
	r.FinishedAt = workflow.Now(ctx)
	r.Tables = slices.Clone(b.tables)
	slices.SortStableFunc(r.Tables, compareTables)
	for _, t := range r.Tables {
		r.Rows += t.Rows
	}
	r.Errors = b.errors
	switch {
	case b.failed == 0:
		r.Status = StatusSuccess
	case b.succeeded == 0 && r.Rows == 0:
		r.Status = StatusFailed
	default:
		r.Status = StatusPartialSuccess
	}
	return r
}

// TableGroup returns the report group of a landed table: identity_graph for
// the change logs and the materialized tables, event_type for the six call
// type tables (and the discards table), event for the Track event tables.
func TableGroup(table string) string {
	switch table {
	case TableIDGraphUpdates, TableExternalIDMappingUpdates, TableProfileTraitsUpdates,
		"id_graph", "external_id_mapping", "profile_traits", "user_traits", "user_identifiers", "profile_merges",
		ReportMaterialize:
		return GroupIdentity
	case "identifies", "pages", "screens", "groups", "aliases", "tracks", "discards", ReportEvents:
		return GroupEventType
	}
	return GroupEvent
}

var groupOrder = map[string]int{GroupIdentity: 0, GroupEventType: 1, GroupEvent: 2}

var identityOrder = map[string]int{
	TableIDGraphUpdates: 1, TableExternalIDMappingUpdates: 2, TableProfileTraitsUpdates: 3,
	"id_graph": 4, "profile_merges": 5, "external_id_mapping": 6, "user_identifiers": 7,
	"profile_traits": 8, "user_traits": 9, ReportMaterialize: 10,
}

// compareTables orders report rows by group, the identity tables in load
// order, the others by name.
func compareTables(a, b TableResult) int {
	if c := cmp.Compare(groupOrder[a.Group], groupOrder[b.Group]); c != 0 {
		return c
	}
	if c := cmp.Compare(identityOrder[a.Table], identityOrder[b.Table]); c != 0 {
		return c
	}
	return cmp.Compare(a.Table, b.Table)
}
