package store

import (
	"context"
	"errors"
	"time"

	"github.com/profilesync/profilesync/identity"
)

// Errors returned by every implementation.
var (
	// ErrNotFound is returned when a looked-up record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write lost a race: a resolver commit
	// whose starting position is no longer current, or a create whose
	// unique name is taken.
	ErrConflict = errors.New("conflict")
)

// Store is everything the application keeps.
type Store interface {
	Spaces
	Inbox
	ChangeLogs
	Warehouses
	WarehouseSettings
	SyncRuns
	Close() error
}

// Space is an identity space: its profiles are resolved together under one
// set of rules and synced to its warehouses.
type Space struct {
	ID        string // a slug: lowercase letters, digits and underscores
	Name      string
	Rules     identity.Rules
	CreatedAt time.Time
}

// Source is an event source of a space. Its write key authenticates events.
type Source struct {
	ID        string
	SpaceID   string
	Name      string
	Slug      string
	CreatedAt time.Time
}

// Spaces manages spaces and sources.
type Spaces interface {
	// CreateSpace creates a space; ErrConflict if the id is taken.
	CreateSpace(ctx context.Context, s Space) error
	// UpdateSpaceRules replaces the rules of a space.
	UpdateSpaceRules(ctx context.Context, spaceID string, rules identity.Rules) error
	GetSpace(ctx context.Context, id string) (Space, error)
	ListSpaces(ctx context.Context) ([]Space, error)
	// CreateSource creates a source with the given write key. Only a hash of
	// the key is kept.
	CreateSource(ctx context.Context, src Source, writeKey string) error
	// SourceByWriteKey finds the source a write key belongs to, or
	// ErrNotFound.
	SourceByWriteKey(ctx context.Context, writeKey string) (Source, error)
	GetSource(ctx context.Context, id string) (Source, error)
	ListSources(ctx context.Context, spaceID string) ([]Source, error)
}

// InboxEvent is an accepted event, as the ingest API normalized it.
type InboxEvent struct {
	Pos        int64 // position in the inbox; assigned by Append
	SpaceID    string
	SourceID   string
	MessageID  string
	Type       string
	ReceivedAt time.Time
	Timestamp  time.Time
	Payload    []byte // the normalized event JSON
}

// Inbox is the durable queue between the ingest API and the resolvers.
type Inbox interface {
	// Append durably stores events in one transaction, skipping any whose
	// (SourceID, MessageID) was accepted less than dedupeWindow before its
	// ReceivedAt, or appears earlier in the same call. It assigns Pos to the
	// accepted events and reports, per event, whether it was accepted.
	// Within a space, positions become visible to ReadInbox in increasing
	// order: a reader never sees a position before a smaller one commits.
	Append(ctx context.Context, events []InboxEvent, dedupeWindow time.Duration) (accepted []bool, err error)
	// ReadInbox returns up to limit events of a space with Pos > after, in
	// position order.
	ReadInbox(ctx context.Context, spaceID string, after int64, limit int) ([]InboxEvent, error)
	// PruneDedupe forgets message ids received before cutoff.
	PruneDedupe(ctx context.Context, cutoff time.Time) error
}

// EventSegment stamps an event with the profile it resolved to.
type EventSegment struct {
	Pos       int64
	SegmentID string // "" when the event resolved to no profile
}

// Batch is the outcome of resolving a run of inbox events, committed at once.
type Batch struct {
	SpaceID  string
	FromPos  int64 // the resolver position the batch started from
	ToPos    int64 // the position of the last event it covers
	Graph    []identity.GraphUpdate
	Mappings []identity.MappingUpdate
	Traits   []identity.TraitsUpdate
	Events   []EventSegment
}

// Position is where a space's resolver stands.
type Position struct {
	Pos     int64 // last inbox position resolved and committed
	LastSeq int64 // highest change-log seq committed for the space
}

// StoredEvent is an inbox event with the profile it resolved to.
type StoredEvent struct {
	InboxEvent
	SegmentID string
}

// ChangeLogs holds the resolver's output.
type ChangeLogs interface {
	// ResolverPosition returns where a space's resolver stands; zero for a
	// space never resolved.
	ResolverPosition(ctx context.Context, spaceID string) (Position, error)
	// CommitBatch stores the change rows and event stamps of b and moves
	// the space's position from b.FromPos to b.ToPos, all in one
	// transaction. It assigns strictly increasing store-wide Seq values to
	// the rows (ordered by event position, then graph, mapping, traits, then
	// their order in b) and writes them back into b. If the position is no
	// longer b.FromPos it changes nothing and returns ErrConflict.
	CommitBatch(ctx context.Context, b *Batch) error
	// ScanIdentity calls fn for every id_graph_updates and
	// external_id_mapping_updates row of a space in seq order; exactly one
	// of g and m is non-nil per call. It is used to rebuild the index.
	ScanIdentity(ctx context.Context, spaceID string, fn func(g *identity.GraphUpdate, m *identity.MappingUpdate) error) error
	// LatestTraits returns the latest trait snapshot of each of the given
	// profiles that has one.
	LatestTraits(ctx context.Context, spaceID string, segmentIDs []string) (map[string]identity.TraitSet, error)

	// GraphUpdates, MappingUpdates and TraitsUpdates return up to limit rows
	// of a space with after < Seq <= upto, in seq order.
	GraphUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.GraphUpdate, error)
	MappingUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.MappingUpdate, error)
	TraitsUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.TraitsUpdate, error)
	// Events returns up to limit resolved events of a space with
	// after < Pos <= upto, in position order.
	Events(ctx context.Context, spaceID string, after, upto int64, limit int) ([]StoredEvent, error)
	// EventPosAt returns the position of the last event of a space received
	// before t (0 if none): events by time are read as a position range.
	EventPosAt(ctx context.Context, spaceID string, t time.Time) (int64, error)
}

// Warehouse is a destination of a space's profiles.
type Warehouse struct {
	ID        string
	SpaceID   string
	Name      string
	Type      string            // postgres, duckdb, snowflake, redshift, bigquery, synapse
	Config    map[string]string // connection settings that are not secret
	State     string            // lifecycle state, owned by the warehouse workflow
	Schedule  string            // sync interval ("1h", "15m") or a cron spec
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Warehouses manages warehouse records and their credentials. Credentials are
// encrypted at rest (AES-GCM) with the store's master key.
type Warehouses interface {
	// CreateWarehouse creates a warehouse; ErrConflict if the id or the
	// (space, name) pair is taken.
	CreateWarehouse(ctx context.Context, w Warehouse) error
	GetWarehouse(ctx context.Context, id string) (Warehouse, error)
	// ListWarehouses lists the warehouses of a space, or all when spaceID
	// is empty.
	ListWarehouses(ctx context.Context, spaceID string) ([]Warehouse, error)
	// UpdateWarehouse replaces the mutable fields (Name, Config, State,
	// Schedule) of an existing warehouse.
	UpdateWarehouse(ctx context.Context, w Warehouse) error
	// DeleteWarehouse removes a warehouse and its credentials.
	DeleteWarehouse(ctx context.Context, id string) error
	// PutCredentials encrypts and stores a warehouse's secret.
	PutCredentials(ctx context.Context, warehouseID string, secret []byte) error
	// Credentials decrypts a warehouse's secret, or ErrNotFound.
	Credentials(ctx context.Context, warehouseID string) ([]byte, error)
}

// SchemaColumn is a column of a landed table, as the schema cache keeps it.
type SchemaColumn struct {
	Name string
	Type string // the adapters' column type: string, int, float, bool, timestamp
}

// Selection turns a landed table, or one column of it, on or off for a
// warehouse (selective sync). Tables and columns without a selection are on.
type Selection struct {
	Table     string
	Column    string // "" for the whole table
	Enabled   bool
	ChangedAt time.Time
}

// WarehouseSettings keeps what a warehouse's loads need beyond its record:
// the cached schema of the warehouse, and its selective-sync choices. Both are
// deleted with the warehouse.
type WarehouseSettings interface {
	// WarehouseSchema returns the cached schema: table → columns, sorted by
	// name.
	WarehouseSchema(ctx context.Context, warehouseID string) (map[string][]SchemaColumn, error)
	// SaveWarehouseSchema records the columns of the given tables, adding
	// new ones and updating types. With replace, the cached schema becomes
	// exactly tables (after a refresh found the cache stale).
	SaveWarehouseSchema(ctx context.Context, warehouseID string, tables map[string][]SchemaColumn, replace bool) error
	// SetSelection records a selection (ChangedAt defaults to now) and
	// returns the one it replaced, which is enabled with a zero ChangedAt
	// when there was none.
	SetSelection(ctx context.Context, warehouseID string, sel Selection) (previous Selection, err error)
	// Selections returns the recorded selections of a warehouse, sorted by
	// table and column.
	Selections(ctx context.Context, warehouseID string) ([]Selection, error)
}

// Sync statuses.
const (
	SyncRunning        = "running"
	SyncSuccess        = "success"
	SyncPartialSuccess = "partial_success"
	SyncFailed         = "failed"
)

// Table groups of a sync report.
const (
	GroupIdentity  = "identity_graph" // id_graph_updates, external_id_mapping_updates, profile_traits_updates and the views
	GroupEventType = "event_type"     // identifies, pages, screens, groups, aliases, tracks
	GroupEvent     = "event"          // one table per Track event
)

// TableResult is one table's part of a sync.
type TableResult struct {
	Table string `json:"table"`
	Group string `json:"group"`
	Rows  int64  `json:"rows"`
	Error string `json:"error,omitempty"`
}

// SyncRun is the report of one sync or backfill.
type SyncRun struct {
	ID          string // the workflow id
	WarehouseID string
	Kind        string // sync or backfill
	Status      string
	StartedAt   time.Time
	Duration    time.Duration
	Rows        int64
	Tables      []TableResult
	Errors      []string
}

// SyncRuns keeps sync reports.
type SyncRuns interface {
	// RecordSyncRun inserts or replaces a report by ID.
	RecordSyncRun(ctx context.Context, r SyncRun) error
	GetSyncRun(ctx context.Context, id string) (SyncRun, error)
	// ListSyncRuns returns up to limit reports of a warehouse, newest first.
	ListSyncRuns(ctx context.Context, warehouseID string, limit int) ([]SyncRun, error)
}
