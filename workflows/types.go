package workflows

import (
	"context"
	"time"
)

// Activity names. The activities are methods with exactly these names on the
// struct the worker registers (worker.RegisterActivity(&activities.Activities{...})
// registers each method under its name); Activities below gives their
// signatures. Workflows schedule them by name so this package never imports
// the activities package.
const (
	ActivityTestConnection    = "TestConnection"
	ActivitySetWarehouseState = "SetWarehouseState"
	ActivityEnsureSchedule    = "EnsureSchedule"
	ActivityPauseSchedule     = "PauseSchedule"
	ActivityUnpauseSchedule   = "UnpauseSchedule"
	ActivityTriggerSchedule   = "TriggerSchedule"
	ActivityDeleteSchedule    = "DeleteSchedule"
	ActivityDeleteWarehouse   = "DeleteWarehouse"
	ActivityPlanSync          = "PlanSync"
	ActivityPrepareSchema     = "PrepareSchema"
	ActivityLoadIdentity      = "LoadIdentity"
	ActivityLoadEvents        = "LoadEvents"
	ActivityMaterialize       = "Materialize"
	ActivityEventRange        = "EventRange"
	ActivityLoadEventsRange   = "LoadEventsRange"
	ActivityRecordReport      = "RecordReport"
)

// ActivityNames lists every activity the workflows schedule.
func ActivityNames() []string {
	return []string{
		ActivityTestConnection, ActivitySetWarehouseState,
		ActivityEnsureSchedule, ActivityPauseSchedule, ActivityUnpauseSchedule,
		ActivityTriggerSchedule, ActivityDeleteSchedule, ActivityDeleteWarehouse,
		ActivityPlanSync, ActivityPrepareSchema, ActivityLoadIdentity, ActivityLoadEvents,
		ActivityMaterialize, ActivityEventRange, ActivityLoadEventsRange, ActivityRecordReport,
	}
}

// Activities is the contract of the activities package: one method per
// activity name above, with these exact signatures. Assert it there with
//
//	var _ workflows.Activities = (*Activities)(nil)
//
// Errors: return a temporal.ApplicationError of one of the ErrType* types for
// failures that retrying cannot fix (they are non-retryable in every retry
// policy here); any other error is retried with backoff. Error messages end up
// in sync reports and the Temporal UI, so they must never contain credentials
// or row values.
type Activities interface {
	// TestConnection runs the warehouse's connection test steps (connect,
	// create_schema, create_table, write_read, clean_up) with the credentials
	// in the store. It returns a TestResult with OK=true when every step
	// passed. When a step fails it returns a non-retryable ApplicationError
	// of type ErrTypeConnectionTestFailed whose message names the step
	// ("connect: password authentication failed for user ..."), with the
	// TestResult (Steps, FailedStep, Error) as its first detail:
	//
	//	temporal.NewNonRetryableApplicationError(msg, workflows.ErrTypeConnectionTestFailed, nil, result)
	//
	// Transient errors (store unavailable) are ordinary errors and retried.
	TestConnection(ctx context.Context, in TestInput) (TestResult, error)

	// SetWarehouseState mirrors the lifecycle state and schedule into the
	// store's warehouse record, for listings. Idempotent.
	SetWarehouseState(ctx context.Context, in StateInput) error

	// EnsureSchedule creates the Temporal Schedule SyncScheduleID(in.WarehouseID),
	// or updates it when it exists (Create, and on
	// temporal.ErrScheduleAlreadyRunning GetHandle+Update). Its spec comes from
	// ParseSchedule(in.Spec) (an interval or a cron expression, UTC); its
	// action starts SyncWorkflowType on the worker's task queue with
	// SyncInput{WarehouseID, EventsLookback} and workflow id
	// SyncScheduleID(in.WarehouseID) (the server appends the scheduled time,
	// so a retry of one scheduled run is the same workflow). Overlap SKIP (a
	// run never overlaps the previous one), a catch-up window of about one
	// interval. Paused sets the schedule's paused state; TriggerImmediately
	// starts one run now (on create, and on update through Trigger).
	EnsureSchedule(ctx context.Context, in ScheduleInput) error
	// PauseSchedule pauses the sync schedule with in.Note. Idempotent.
	PauseSchedule(ctx context.Context, in ScheduleRef) error
	// UnpauseSchedule unpauses the sync schedule with in.Note. Idempotent.
	UnpauseSchedule(ctx context.Context, in ScheduleRef) error
	// TriggerSchedule starts a sync now through the schedule, with overlap
	// BUFFER_ONE: if a sync is running, the triggered one starts right after
	// it instead of racing it.
	TriggerSchedule(ctx context.Context, in ScheduleRef) error
	// DeleteSchedule deletes the sync schedule. A schedule that does not
	// exist is not an error.
	DeleteSchedule(ctx context.Context, in ScheduleRef) error
	// DeleteWarehouse deletes the warehouse record and its credentials from
	// the store. A record that does not exist is not an error.
	DeleteWarehouse(ctx context.Context, in WarehouseRef) error

	// PlanSync fixes the cut a sync loads up to and where its events start.
	PlanSync(ctx context.Context, in PlanInput) (Plan, error)
	// PrepareSchema creates the warehouse schema, the bookkeeping tables and
	// the change-log tables if missing (adapters Schemas.EnsureSchema and
	// EnsureTable). Idempotent.
	PrepareSchema(ctx context.Context, in WarehouseRef) error
	// LoadIdentity loads one change-log table (in.Table is one of
	// IdentityTables()) from the warehouse's watermark of that stream up to
	// in.UptoSeq, chunk by chunk, each chunk exactly once; it heartbeats
	// after every chunk (HeartbeatTimeout is LoadHeartbeatTimeout) and, on a
	// retry, simply resumes from the watermark. On failure it may attach the
	// LoadOutput of the chunks it did load as the error's first detail so the
	// report counts them.
	LoadIdentity(ctx context.Context, in LoadInput) (LoadOutput, error)
	// LoadEvents loads the resolved events with positions in
	// (max(events watermark, in.After), in.UptoPos] into the event type
	// tables and one table per Track event, chunked and heartbeating like
	// LoadIdentity, and returns the rows per table. When in.After is past
	// the watermark (a first sync's lookback), the first chunk still starts
	// at the watermark (adapters refuse a gap, ErrWatermarkGap) and simply
	// carries no rows at or below in.After.
	LoadEvents(ctx context.Context, in LoadEventsInput) (LoadOutput, error)
	// Materialize brings the current-state tables (id_graph,
	// external_id_mapping, profile_traits, user_traits, user_identifiers,
	// profile_merges) up to in.UptoSeq incrementally and returns the rows
	// written per table. It heartbeats.
	Materialize(ctx context.Context, in MaterializeInput) (LoadOutput, error)

	// EventRange returns the inbox positions of the events of the space
	// received in [in.From, in.To): they are exactly the positions in
	// (After, Upto].
	EventRange(ctx context.Context, in RangeInput) (Range, error)
	// LoadEventsRange loads the events with positions in (in.After, in.Upto]
	// under the watermark stream in.Stream (a backfill's own stream, never
	// "events", so it never moves the sync's watermark; a chunk at or below
	// the stream's watermark is skipped, which makes a rerun resume). The
	// first chunk of a new stream starts at its watermark (0) with no rows
	// at or below in.After, as in LoadEvents. It heartbeats.
	LoadEventsRange(ctx context.Context, in LoadRangeInput) (LoadOutput, error)

	// RecordReport inserts or replaces the report of a run in the store
	// (by WorkflowID).
	RecordReport(ctx context.Context, in SyncReport) error
}

// Error types (temporal.ApplicationError.Type) that the activities return for
// failures that retrying cannot fix. All are non-retryable in the workflows'
// retry policies.
const (
	// ErrTypeConnectionTestFailed: a connection test step failed (wrong
	// password or host, missing privileges). The message names the step.
	ErrTypeConnectionTestFailed = "ConnectionTestFailed"
	// ErrTypeBadConfig: the warehouse configuration is unusable (unknown
	// type, missing settings or credentials, a schema that cannot be
	// evolved).
	ErrTypeBadConfig = "BadConfig"
	// ErrTypeAuthFailed: the warehouse refused the credentials.
	ErrTypeAuthFailed = "AuthFailed"
	// ErrTypeNotFound: the warehouse record does not exist (any more).
	ErrTypeNotFound = "NotFound"
)

// Error types of refused and failed updates, for the admin API to map to HTTP
// statuses (403, 409, 400, 502).
const (
	ErrTypeForbidden       = "Forbidden"       // the actor's role may not do this
	ErrTypeInvalidState    = "InvalidState"    // not allowed in the warehouse's current state
	ErrTypeInvalidArgument = "InvalidArgument" // a bad schedule, window or reason
	ErrTypeOperationFailed = "OperationFailed" // accepted, but an activity failed; the state is unchanged
)

// nonRetryableErrorTypes are not retried by any activity here.
var nonRetryableErrorTypes = []string{ErrTypeConnectionTestFailed, ErrTypeBadConfig, ErrTypeAuthFailed, ErrTypeNotFound}

// WarehouseRef names a warehouse.
type WarehouseRef struct {
	WarehouseID string `json:"warehouse_id"`
}

// ScheduleRef names a warehouse's sync schedule, with a note (who did it and
// why) to record on the schedule.
type ScheduleRef struct {
	WarehouseID string `json:"warehouse_id"`
	Note        string `json:"note,omitempty"`
}

// TestInput is the input of TestConnection.
type TestInput struct {
	WarehouseID string `json:"warehouse_id"`
}

// Step is one step of a connection test.
type Step struct {
	Name       string `json:"name"` // connect, create_schema, create_table, write_read, clean_up
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// TestResult is the outcome of a connection test.
type TestResult struct {
	OK         bool   `json:"ok"`
	Steps      []Step `json:"steps,omitempty"`
	FailedStep string `json:"failed_step,omitempty"`
	Error      string `json:"error,omitempty"`
	// TestedAt is set by the workflow when the test finished.
	TestedAt time.Time `json:"tested_at"`
}

// StateInput is the input of SetWarehouseState.
type StateInput struct {
	WarehouseID string `json:"warehouse_id"`
	State       string `json:"state"`    // one of the State* constants
	Schedule    string `json:"schedule"` // the sync schedule spec
}

// ScheduleInput is the input of EnsureSchedule.
type ScheduleInput struct {
	WarehouseID string `json:"warehouse_id"`
	// Spec is an interval ("1h", "15m") or a 5-field cron spec, already
	// valid for ParseSchedule.
	Spec               string `json:"spec"`
	Paused             bool   `json:"paused"`
	TriggerImmediately bool   `json:"trigger_immediately"`
	// EventsLookback goes into the scheduled SyncInput: how much event
	// history a first sync carries.
	EventsLookback time.Duration `json:"events_lookback"`
	Note           string        `json:"note,omitempty"`
}

// PlanInput is the input of PlanSync.
type PlanInput struct {
	WarehouseID    string        `json:"warehouse_id"`
	EventsLookback time.Duration `json:"events_lookback"`
}

// Plan is the cut a sync loads up to, fixed once at its start so every table
// of one sync is consistent.
type Plan struct {
	// UptoSeq is the highest change-log seq committed for the space: identity
	// loads and Materialize stop there.
	UptoSeq int64 `json:"upto_seq"`
	// UptoPos is the resolver's inbox position: events are loaded up to it.
	UptoPos int64 `json:"upto_pos"`
	// FirstSync is true when the warehouse has never loaded events.
	FirstSync bool `json:"first_sync"`
	// EventsAfter is where a first sync's events start: the position of the
	// last event received before now minus EventsLookback. 0 otherwise: the
	// events load resumes from the warehouse's watermark.
	EventsAfter int64 `json:"events_after"`
}

// LoadInput is the input of LoadIdentity.
type LoadInput struct {
	WarehouseID string `json:"warehouse_id"`
	Table       string `json:"table"` // one of IdentityTables()
	UptoSeq     int64  `json:"upto_seq"`
}

// LoadEventsInput is the input of LoadEvents.
type LoadEventsInput struct {
	WarehouseID string `json:"warehouse_id"`
	// After, when greater than the warehouse's events watermark, is where the
	// load starts (a first sync's lookback); 0 resumes from the watermark.
	After   int64 `json:"after,omitempty"`
	UptoPos int64 `json:"upto_pos"`
}

// MaterializeInput is the input of Materialize.
type MaterializeInput struct {
	WarehouseID string `json:"warehouse_id"`
	UptoSeq     int64  `json:"upto_seq"`
}

// LoadOutput is what a load or Materialize wrote: rows in total and per
// table. Tables has one entry per table written, so one per Track event name
// an events load met (about 60 bytes each: 2,000 event names make 120 KB,
// well under Temporal's 2 MiB payload limit); when it is empty, Table and
// Rows stand for it.
type LoadOutput struct {
	Table  string           `json:"table,omitempty"`
	Rows   int64            `json:"rows"`
	Tables map[string]int64 `json:"tables,omitempty"`
}

// RangeInput is the input of EventRange.
type RangeInput struct {
	WarehouseID string    `json:"warehouse_id"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
}

// Range is a half-open range of inbox positions (After, Upto].
type Range struct {
	After int64 `json:"after"`
	Upto  int64 `json:"upto"`
}

// LoadRangeInput is the input of LoadEventsRange.
type LoadRangeInput struct {
	WarehouseID string `json:"warehouse_id"`
	After       int64  `json:"after"`
	Upto        int64  `json:"upto"`
	// Stream is the watermark stream of the backfill (its workflow id).
	Stream string `json:"stream"`
	// Tables, when set, limits the load to these event tables.
	Tables []string `json:"tables,omitempty"`
}

// Sync statuses: the SyncReport.Status values and the SyncStatus search
// attribute (which is StatusRunning while a run is in progress). They are the
// store's sync statuses.
const (
	StatusRunning        = "running"
	StatusSuccess        = "success"
	StatusPartialSuccess = "partial_success"
	StatusFailed         = "failed"
)

// Report kinds.
const (
	KindSync     = "sync"
	KindBackfill = "backfill"
)

// Table groups of a sync report (the store's groups).
const (
	GroupIdentity  = "identity_graph" // change logs and the materialized current-state tables
	GroupEventType = "event_type"     // identifies, pages, screens, groups, aliases, tracks
	GroupEvent     = "event"          // one table per Track event
)

// Names of the landed tables the workflows know by name (they match the
// adapters' table names).
const (
	TableIDGraphUpdates           = "id_graph_updates"
	TableExternalIDMappingUpdates = "external_id_mapping_updates"
	TableProfileTraitsUpdates     = "profile_traits_updates"
)

// Report rows that stand for a whole step rather than one table, used when a
// step fails without saying which table it failed on.
const (
	// ReportEvents is the events load (group event_type).
	ReportEvents = "events"
	// ReportMaterialize is the materialization (group identity_graph).
	ReportMaterialize = "materialize"
)

// StreamEvents is the watermark stream of the sync's events load. Backfills
// use their own streams.
const StreamEvents = "events"

// IdentityTables are the change-log tables LoadIdentity loads, in report
// order.
func IdentityTables() []string {
	return []string{TableIDGraphUpdates, TableExternalIDMappingUpdates, TableProfileTraitsUpdates}
}

// TableResult is one table's part of a run.
type TableResult struct {
	Table string `json:"table"`
	Group string `json:"group"` // one of the Group* constants
	Rows  int64  `json:"rows"`
	Error string `json:"error,omitempty"`
}

// SyncReport is the report of one sync or backfill, recorded in the store by
// RecordReport and returned as the workflow result.
type SyncReport struct {
	WorkflowID string `json:"workflow_id"`
	// RunID is the run of WorkflowID: two syncs triggered within one second
	// share the workflow id (the schedule names runs by the second).
	RunID       string        `json:"run_id,omitempty"`
	WarehouseID string        `json:"warehouse_id"`
	Kind        string        `json:"kind"`   // KindSync or KindBackfill
	Status      string        `json:"status"` // StatusSuccess, StatusPartialSuccess or StatusFailed
	StartedAt   time.Time     `json:"started_at"`
	FinishedAt  time.Time     `json:"finished_at"`
	Rows        int64         `json:"rows"`
	Tables      []TableResult `json:"tables,omitempty"`
	// Errors are the error messages of the run, each at most
	// MaxErrorLength bytes.
	Errors []string `json:"errors,omitempty"`
}

// ID is the report's id: its run's ReportID.
func (r SyncReport) ID() string { return ReportID(r.WorkflowID, r.RunID) }

// ID is the id of the sync's report.
func (s SyncSummary) ID() string { return ReportID(s.WorkflowID, s.RunID) }

// ReportID names the report of a run: the workflow id and the run id, which
// tells apart runs that share a workflow id. The whole run id is kept: run
// ids are UUIDv7, whose leading characters are a timestamp, so any prefix of
// them is shared by runs started close together.
func ReportID(workflowID, runID string) string {
	if runID == "" {
		return workflowID
	}
	return workflowID + "~" + runID
}

// Duration is how long the run took.
func (r SyncReport) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// MaxErrorLength bounds each error message the workflows put into payloads.
const MaxErrorLength = 1000

// SyncInput is the input of SyncWorkflow.
type SyncInput struct {
	WarehouseID string `json:"warehouse_id"`
	// EventsLookback is how much event history a first sync carries;
	// DefaultEventsLookback when zero.
	EventsLookback time.Duration `json:"events_lookback,omitempty"`
}

// DefaultEventsLookback is two months of events for a first sync.
const DefaultEventsLookback = 60 * 24 * time.Hour

// SyncSummary is what SyncWorkflow signals (SignalSyncFinished) to its
// warehouse's workflow when it finishes.
type SyncSummary struct {
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id,omitempty"`
	Status     string    `json:"status"`
	Rows       int64     `json:"rows"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Roles of the actors sending updates. The admin API sets them from the
// caller's token.
const (
	RoleStaff  = "staff"  // operators of the service: approve and reject, and all admin actions
	RoleAdmin  = "admin"  // the customer's workspace admin
	RoleViewer = "viewer" // read only
)

// Actor is who sends an update.
type Actor struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Warehouse lifecycle states.
const (
	StateTesting          = "testing"           // the connection test is running
	StateTestFailed       = "test_failed"       // waiting for a retest with corrected settings
	StateAwaitingApproval = "awaiting_approval" // test passed; waiting for staff
	StateEnabled          = "enabled"           // approved; the schedule runs syncs
	StateDisabled         = "disabled"          // schedule paused, credentials kept
	StateRejected         = "rejected"          // staff refused it
	StateDeleting         = "deleting"          // delete accepted; schedule and record being removed
	StateDeleted          = "deleted"           // gone; the workflow has completed
)

// WarehouseInput is the input of WarehouseWorkflow.
type WarehouseInput struct {
	WarehouseID string `json:"warehouse_id"`
	SpaceID     string `json:"space_id"`
	// Schedule is the initial sync schedule; DefaultSchedule when empty. It
	// must pass ValidateSchedule.
	Schedule string `json:"schedule,omitempty"`
	// EventsLookback is how much event history the first sync carries;
	// DefaultEventsLookback when zero.
	EventsLookback time.Duration `json:"events_lookback,omitempty"`
	// State is nil on the first run; continue-as-new carries the state here.
	State *WarehouseState `json:"state,omitempty"`
}

// WarehouseState is the state of a warehouse, as the "state" query returns
// it.
type WarehouseState struct {
	State        string       `json:"state"`
	Schedule     string       `json:"schedule"`
	LastTest     *TestResult  `json:"last_test,omitempty"`
	ApprovedBy   string       `json:"approved_by,omitempty"`
	ApprovedAt   time.Time    `json:"approved_at,omitzero"`
	RejectedBy   string       `json:"rejected_by,omitempty"`
	RejectReason string       `json:"reject_reason,omitempty"`
	LastSync     *SyncSummary `json:"last_sync,omitempty"`
	// UpdatedBy is the actor of the last change ("" for the workflow itself).
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RejectInput is the argument of the reject update.
type RejectInput struct {
	Actor  Actor  `json:"actor"`
	Reason string `json:"reason"`
}

// ScheduleChange is the argument of the set_schedule update.
type ScheduleChange struct {
	Actor    Actor  `json:"actor"`
	Schedule string `json:"schedule"`
}

// BackfillRequest is the argument of the backfill update: reload the events
// received in [From, To).
type BackfillRequest struct {
	Actor Actor     `json:"actor"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Tables, when set, limits the backfill to these event tables (a
	// selective-sync gap); otherwise every event table is reloaded.
	Tables []string `json:"tables,omitempty"`
}

// BackfillInput is the input of BackfillWorkflow. A new backfill sets
// WarehouseID, From, To and optionally ChunkSize; continue-as-new carries
// Next, Upto and Progress.
type BackfillInput struct {
	WarehouseID string    `json:"warehouse_id"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	// Tables, when set, limits the backfill to these event tables.
	Tables []string `json:"tables,omitempty"`
	// ChunkSize is the number of inbox positions per LoadEventsRange;
	// DefaultBackfillChunkSize when zero.
	ChunkSize int64 `json:"chunk_size,omitempty"`
	// Next and Upto are the positions still to load: (Next, Upto]. Both zero
	// (with Progress nil) means "not ranged yet": the workflow asks EventRange.
	Next int64 `json:"next,omitempty"`
	Upto int64 `json:"upto,omitempty"`
	// Progress is what earlier runs of this backfill loaded.
	Progress *BackfillProgress `json:"progress,omitempty"`
}

// BackfillProgress is what a backfill carries across continue-as-new.
type BackfillProgress struct {
	StartedAt time.Time        `json:"started_at"`
	Rows      int64            `json:"rows"`
	Tables    map[string]int64 `json:"tables,omitempty"`
	Chunks    int64            `json:"chunks"`
	Runs      int              `json:"runs"`
}

// DefaultBackfillChunkSize is the number of inbox positions a backfill loads
// per activity.
const DefaultBackfillChunkSize = 50_000

// BackfillChunksPerRun bounds the chunks one run of a backfill loads before
// it continues as new, which bounds its history (about 6 events per chunk).
const BackfillChunksPerRun = 200
