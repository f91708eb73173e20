// Package activities holds the Temporal activities of Profiles Sync: every
// piece of I/O a warehouse's lifecycle, a sync or a backfill does. The
// workflows package schedules them by name and states their contract
// (workflows.Activities); this package implements it on Activities, a struct
// of dependencies that the worker registers as a whole
// (worker.RegisterActivity(&activities.Activities{...}) registers each
// exported method under its name, so the exported methods are exactly the
// activities).
//
// # Warehouses
//
// An activity that touches a warehouse reads the warehouse record and its
// decrypted credentials from the store, opens the warehouse through Open,
// and closes it before returning (DuckDB holds a file lock while open).
// Credentials never leave the activity: not in payloads, heartbeat details,
// logs or errors. Logs carry ids and counts only; error text goes to
// Temporal. Every error an activity returns passes through a last
// check that strips the secret should an adapter ever let it through.
//
// # Loading
//
// LoadIdentity, LoadEvents and LoadEventsRange read the store in chunks of
// ChunkSize rows from the warehouse's watermark of their stream up to the
// sync's cut, convert them into landed rows (identity.go for the change
// logs, events.go for the event tables; names, types and coercion from the
// columns package), create the tables and columns a chunk needs
// (loader.go), and hand each chunk to the adapter, which merges it by id and
// moves the watermark in one transaction. The next chunk is read and built
// while the adapter loads the current one. Values that do not fit their
// column go to the discards table, in the same chunk.
// They heartbeat after every chunk (and from a ticker while a chunk loads)
// with the watermark and row counts only, and on a retry resume from the
// warehouse's watermark, taking the row counts of earlier attempts from the
// heartbeat details.
//
// # Event tables
//
// Each event lands in its event type table (identifies, pages, screens,
// groups, aliases, tracks) and each Track event also in the table of its
// name (Order Completed → order_completed), every row with segment_id and
// event_source_id. Context is flattened into context_* columns of every
// table; traits into identifies, groups and aliases; properties into pages,
// screens and the Track event tables (tracks keeps the standard columns and
// the context). See eventRows for the rules, columns for names and types,
// and loader.fit for how a chunk meets the warehouse's columns: new columns
// in the type of their first value, integer columns widened to float where
// the adapter can (adapters.Widener), everything else coerced or discarded
// with a reason. schema.go says how the warehouse's schema is cached.
package activities

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// DefaultChunkSize is the number of store rows a load reads and loads per
// chunk when Activities.ChunkSize is zero.
const DefaultChunkSize = 50_000

// OpenFunc opens a warehouse; it is adapters' Open functions' signature.
type OpenFunc func(ctx context.Context, cfg adapters.Config) (adapters.Warehouse, error)

// Activities implements workflows.Activities. The zero value of every field
// but Store is usable: it takes the default documented on the field.
type Activities struct {
	// Store is the profile store and control plane.
	Store store.Store
	// Temporal is the client the schedule activities use. Only they need
	// it.
	Temporal client.Client
	// TaskQueue is the task queue the sync schedule starts SyncWorkflow on:
	// the worker's.
	TaskQueue string
	// Open opens a warehouse from its configuration. Nil means OpenAdapter,
	// which knows every adapter of this repository.
	Open OpenFunc
	// ChunkSize is the most store rows per loaded chunk; DefaultChunkSize
	// when zero.
	ChunkSize int
	// Logger receives structured logs with ids and counts only; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock (uuid_ts, lookbacks); nil means time.Now.
	Now func() time.Time
}

var _ workflows.Activities = (*Activities)(nil)

func (a *Activities) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) chunkSize() int {
	if a.ChunkSize > 0 {
		return a.ChunkSize
	}
	return DefaultChunkSize
}

func (a *Activities) open() OpenFunc {
	if a.Open != nil {
		return a.Open
	}
	return OpenAdapter
}
