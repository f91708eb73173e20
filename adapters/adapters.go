// Package adapters holds what every warehouse adapter shares: the small
// interfaces an adapter implements (connect and test, schema, load,
// materialize), the table and column model, and the names of the tables
// Profiles Sync lands.
//
// Each warehouse lives in its own subpackage (adapters/postgres,
// adapters/duckdb, ...) and passes the conformance suite in
// adapters/adaptertest. SQL dialects live in those subpackages and nowhere
// else.
package adapters

import (
	"context"
	"time"
)

// Type is a warehouse column type, as Segment's warehouses use them.
type Type string

// The column types.
const (
	String    Type = "string"
	Int       Type = "int"
	Float     Type = "float"
	Bool      Type = "bool"
	Timestamp Type = "timestamp"
)

// Column is a column of a landed table.
type Column struct {
	Name string
	Type Type
}

// Table describes a landed table. Every landed table has the primary key
// column "id" of type String.
type Table struct {
	Name    string
	Columns []Column
}

// Rows is a run of rows of one table. Values are nil, string, int64, float64,
// bool or time.Time, matching the column types; Columns must exist in the
// table (see Schemas.EnsureTable).
type Rows struct {
	Table   string
	Columns []string
	Values  [][]any
}

// Chunk is the unit of exactly-once loading: rows of one or more tables that
// together advance a stream's watermark from After to Upto.
type Chunk struct {
	// Stream names the sequence being loaded, such as "id_graph_updates"
	// (watermarks are change-log seqs) or "events" (inbox positions).
	Stream string
	After  int64
	Upto   int64
	Tables []Rows
}

// LoadResult reports what a Load changed.
type LoadResult struct {
	// Rows is the number of rows merged per table.
	Rows map[string]int64
	// Skipped is true when the stream's watermark was already at or past
	// Upto, so nothing was written.
	Skipped bool
}

// Step is one step of a connection test.
type Step struct {
	Name     string        `json:"name"` // connect, create_schema, create_table, write_read, clean_up
	OK       bool          `json:"ok"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Tester tests a warehouse connection step by step.
type Tester interface {
	// Test runs the connection test steps in order and stops at the first
	// failure, returning every step it ran. The error is non-nil when a step
	// failed and names it; it never contains credentials.
	Test(ctx context.Context) ([]Step, error)
}

// Schemas creates and evolves the landed schema.
type Schemas interface {
	// EnsureSchema creates the warehouse schema (namespace) and the
	// bookkeeping tables if they do not exist.
	EnsureSchema(ctx context.Context) error
	// Tables returns the tables of the schema with their columns.
	Tables(ctx context.Context) (map[string][]Column, error)
	// EnsureTable creates t if missing and adds the columns it lacks. It
	// never drops or retypes a column.
	EnsureTable(ctx context.Context, t Table) error
}

// Loader loads chunks exactly once.
type Loader interface {
	// Watermark returns a stream's watermark, 0 if it has none.
	Watermark(ctx context.Context, stream string) (int64, error)
	// Load bulk loads the chunk's rows into staging tables, merges them into
	// their targets by id (a row with an existing id replaces it) and moves
	// the stream's watermark to c.Upto, in one transaction where the
	// warehouse has them. If the watermark is already at or past c.Upto it
	// writes nothing and reports Skipped.
	Load(ctx context.Context, c Chunk) (LoadResult, error)
}

// Materializer maintains the current-state tables from the change logs.
type Materializer interface {
	// Materialize brings id_graph, external_id_mapping, profile_traits,
	// user_traits, user_identifiers and profile_merges up to date with the
	// change-log rows of seq <= upto, reading only rows past its own
	// watermark, and moves that watermark, in one transaction. It returns
	// the rows written per table.
	Materialize(ctx context.Context, upto int64) (map[string]int64, error)
}

// Warehouse is an open connection to one warehouse schema.
type Warehouse interface {
	Tester
	Schemas
	Loader
	Materializer
	Close() error
}

// Config is how to reach a warehouse: the non-secret settings of the store's
// warehouse record and the decrypted secret.
type Config struct {
	Type     string
	Settings map[string]string // host, port, user, database, schema, sslmode, path ...
	Secret   string            // password or key; never logged
}

// Names of the landed tables.
const (
	TableIDGraphUpdates           = "id_graph_updates"
	TableExternalIDMappingUpdates = "external_id_mapping_updates"
	TableProfileTraitsUpdates     = "profile_traits_updates"

	TableIdentifies = "identifies"
	TablePages      = "pages"
	TableScreens    = "screens"
	TableGroups     = "groups"
	TableAliases    = "aliases"
	TableTracks     = "tracks"

	TableIDGraph           = "id_graph"
	TableExternalIDMapping = "external_id_mapping"
	TableProfileTraits     = "profile_traits"
	TableUserTraits        = "user_traits"
	TableUserIdentifiers   = "user_identifiers"
	TableProfileMerges     = "profile_merges"

	TableDiscards = "discards"
)
