package workflows

import (
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Workflow type names, as registered by Register.
const (
	WarehouseWorkflowType = "WarehouseWorkflow"
	SyncWorkflowType      = "SyncWorkflow"
	BackfillWorkflowType  = "BackfillWorkflow"
)

// Update, query and signal names of WarehouseWorkflow.
const (
	// UpdateApprove (Actor) → WarehouseState: staff only, in awaiting_approval.
	UpdateApprove = "approve"
	// UpdateReject (RejectInput) → WarehouseState: staff only, in awaiting_approval.
	UpdateReject = "reject"
	// UpdateDisable (Actor) → WarehouseState: admin or staff, in enabled.
	UpdateDisable = "disable"
	// UpdateEnable (Actor) → WarehouseState: admin or staff, in disabled.
	UpdateEnable = "enable"
	// UpdateDelete (Actor) → WarehouseState: admin or staff, in disabled,
	// rejected, test_failed (or deleting, to retry a delete that failed).
	UpdateDelete = "delete"
	// UpdateRetest (Actor) → WarehouseState: admin or staff, in test_failed,
	// awaiting_approval, enabled or disabled.
	UpdateRetest = "retest"
	// UpdateSetSchedule (ScheduleChange) → WarehouseState: admin or staff,
	// in any state but rejected, deleting and deleted.
	UpdateSetSchedule = "set_schedule"
	// UpdateBackfill (BackfillRequest) → string, the backfill workflow id:
	// admin or staff, in enabled.
	UpdateBackfill = "backfill"
	// UpdateSyncNow (Actor) → WarehouseState: admin or staff, in enabled.
	UpdateSyncNow = "sync_now"

	// QueryState () → WarehouseState.
	QueryState = "state"

	// SignalSyncFinished (SyncSummary) is sent by SyncWorkflow to its
	// warehouse's workflow.
	SignalSyncFinished = "sync_finished"
)

// WarehouseWorkflowID is the id of a warehouse's WarehouseWorkflow.
func WarehouseWorkflowID(warehouseID string) string { return "warehouse-" + warehouseID }

// SyncScheduleID is the id of a warehouse's sync schedule. It is also the
// workflow id prefix of the syncs it starts: the server appends the scheduled
// time ("sync-wh1-2026-11-28T12:00:00Z").
func SyncScheduleID(warehouseID string) string { return "sync-" + warehouseID }

// BackfillWorkflowID is the id of the backfill of a warehouse's events
// received in [from, to): the same window gives the same id, so a repeated
// request while one runs is refused and a rerun after one failed resumes from
// its watermark stream.
//
// A backfill limited to some tables gets their names in its id as well, so
// that gaps of two tables over one window are two backfills.
func BackfillWorkflowID(warehouseID string, from, to time.Time, tables ...string) string {
	const layout = "20060102T150405Z"
	id := "backfill-" + warehouseID + "-" + from.UTC().Format(layout) + "-" + to.UTC().Format(layout)
	if len(tables) > 0 {
		id += "-" + strings.Join(tables, "-")
	}
	return id
}

// Search attributes the workflows set. Register them on the namespace before
// a worker runs these workflows (SearchAttributes, SearchAttributeFlags): an
// upsert of an unregistered attribute fails the workflow task forever.
var (
	// WarehouseIDKey is set by all three workflows.
	WarehouseIDKey = temporal.NewSearchAttributeKeyKeyword("WarehouseID")
	// SpaceIDKey is set by WarehouseWorkflow.
	SpaceIDKey = temporal.NewSearchAttributeKeyKeyword("SpaceID")
	// WarehouseStateKey is the lifecycle state, set by WarehouseWorkflow.
	WarehouseStateKey = temporal.NewSearchAttributeKeyKeyword("WarehouseState")
	// SyncStatusKey is running, success, partial_success or failed, set by
	// SyncWorkflow and BackfillWorkflow.
	SyncStatusKey = temporal.NewSearchAttributeKeyKeyword("SyncStatus")
	// SyncRowsKey is the rows a sync or backfill loaded.
	SyncRowsKey = temporal.NewSearchAttributeKeyInt64("SyncRows")
)

type searchAttributeKey interface {
	GetName() string
	GetValueType() enumspb.IndexedValueType
}

func searchAttributeKeys() []searchAttributeKey {
	return []searchAttributeKey{WarehouseIDKey, SpaceIDKey, WarehouseStateKey, SyncStatusKey, SyncRowsKey}
}

// SearchAttributes returns the custom search attributes to register, name →
// type (for OperatorService().AddSearchAttributes).
func SearchAttributes() map[string]enumspb.IndexedValueType {
	m := make(map[string]enumspb.IndexedValueType)
	for _, k := range searchAttributeKeys() {
		m[k.GetName()] = k.GetValueType()
	}
	return m
}

// SearchAttributeFlags returns the flags that register the search attributes
// on `temporal server start-dev`: "--search-attribute", "WarehouseID=Keyword",
// ...
func SearchAttributeFlags() []string {
	var flags []string
	for _, k := range searchAttributeKeys() {
		flags = append(flags, "--search-attribute", k.GetName()+"="+cliTypeName(k.GetValueType()))
	}
	return flags
}

func cliTypeName(t enumspb.IndexedValueType) string {
	switch t {
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD:
		return "Keyword"
	case enumspb.INDEXED_VALUE_TYPE_INT:
		return "Int"
	case enumspb.INDEXED_VALUE_TYPE_TEXT:
		return "Text"
	case enumspb.INDEXED_VALUE_TYPE_DOUBLE:
		return "Double"
	case enumspb.INDEXED_VALUE_TYPE_BOOL:
		return "Bool"
	case enumspb.INDEXED_VALUE_TYPE_DATETIME:
		return "Datetime"
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST:
		return "KeywordList"
	}
	return t.String()
}

// Registry is where workflows are registered: a worker.Worker, a
// worker.WorkflowReplayer or a testsuite.TestWorkflowEnvironment.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers the three workflows under their type names. The worker
// registers the activities itself.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(WarehouseWorkflow, workflow.RegisterOptions{Name: WarehouseWorkflowType})
	r.RegisterWorkflowWithOptions(SyncWorkflow, workflow.RegisterOptions{Name: SyncWorkflowType})
	r.RegisterWorkflowWithOptions(BackfillWorkflow, workflow.RegisterOptions{Name: BackfillWorkflowType})
}
