package admin

import (
	"time"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/workflows"
)

// Wire types of the admin API, shared with the operator CLI.

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// Space is a space as the API shows it.
type Space struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Rules     identity.Rules `json:"rules"`
	CreatedAt time.Time      `json:"created_at,omitzero"`
}

// Source is a source as the API shows it.
type Source struct {
	ID        string    `json:"id"`
	SpaceID   string    `json:"space_id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// NewSource is the answer to creating a source: the write key is shown once.
type NewSource struct {
	Source   Source `json:"source"`
	WriteKey string `json:"write_key"`
}

// AddWarehouse is the request to add a warehouse.
type AddWarehouse struct {
	SpaceID  string            `json:"space_id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Settings map[string]string `json:"settings"`
	// Password is the warehouse secret. It is stored encrypted and never
	// returned.
	Password string `json:"password,omitempty"`
	Schedule string `json:"schedule,omitempty"`
	// EventsLookback is how much event history the first sync carries
	// (a Go duration, default two months).
	EventsLookback string `json:"events_lookback,omitempty"`
}

// Warehouse is a warehouse as the API shows it: never its credentials.
type Warehouse struct {
	ID        string            `json:"id"`
	SpaceID   string            `json:"space_id"`
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Settings  map[string]string `json:"settings"`
	State     string            `json:"state"`
	Schedule  string            `json:"schedule"`
	CreatedAt time.Time         `json:"created_at,omitzero"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
}

// WarehouseStatus is a warehouse with its live state from its workflow and
// its schedule.
type WarehouseStatus struct {
	Warehouse Warehouse                 `json:"warehouse"`
	Status    *workflows.WarehouseState `json:"status,omitempty"`
	// NextSyncs are the next scheduled sync times (none while disabled).
	NextSyncs []time.Time `json:"next_syncs,omitempty"`
	Paused    bool        `json:"paused"`
	// WorkflowID is the warehouse workflow, to find it in the Temporal UI.
	WorkflowID string `json:"workflow_id"`
}

// Retest is the request to test a warehouse connection again, optionally with
// a new password.
type Retest struct {
	Password string `json:"password,omitempty"`
}

// Reject is the request to reject a warehouse.
type Reject struct {
	Reason string `json:"reason"`
}

// SetSchedule is the request to change a warehouse's sync schedule.
type SetSchedule struct {
	Schedule string `json:"schedule"`
}

// Backfill is the request to reload the events received in [From, To).
type Backfill struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// BackfillStarted is the answer to a backfill request.
type BackfillStarted struct {
	WorkflowID string `json:"workflow_id"`
}

// TableResult is one table's part of a sync.
type TableResult struct {
	Table string `json:"table"`
	Group string `json:"group"`
	Rows  int64  `json:"rows"`
	Error string `json:"error,omitempty"`
}

// Sync is a sync report.
type Sync struct {
	ID          string    `json:"id"`
	WarehouseID string    `json:"warehouse_id"`
	Kind        string    `json:"kind"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"started_at"`
	DurationMS  int64     `json:"duration_ms"`
	Rows        int64     `json:"rows"`
	// IdentityRows, EventTypeRows and EventRows break Rows down into
	// identity graph tables, event type tables and event tables.
	IdentityRows  int64         `json:"identity_rows"`
	EventTypeRows int64         `json:"event_type_rows"`
	EventRows     int64         `json:"event_rows"`
	Tables        []TableResult `json:"tables,omitempty"`
	Errors        []string      `json:"errors,omitempty"`
}
