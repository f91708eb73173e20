package adapters

import "context"

// TablesEnsurer is implemented by a warehouse that can create and extend
// many tables at once: in few transactions, taking its DDL lock and reading
// its catalog once per batch instead of once per table. A chunk of events
// may bring hundreds of new Track event tables. The loader finds it with a
// type assertion and falls back to Schemas.EnsureTable.
type TablesEnsurer interface {
	// EnsureTables does what EnsureTable does for each table. Tables may
	// be created and extended in several transactions: on an error, some
	// may be done and others not, which a retry completes.
	EnsureTables(ctx context.Context, tables []Table) error
}
