package activities

import (
	"context"
	"fmt"
	"maps"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
)

// The warehouse's schema — its tables and their columns — is what every
// chunk is fitted to. Reading it from the warehouse (information_schema) is
// slow on every warehouse and billed on some, so a load reads it once, and
// from the store's copy (store.WarehouseSettings) when there is one:
//
//   - A load starts from the store's copy of the schema, or, when the store
//     has none, from the warehouse's, which it records in the store.
//   - It keeps its copy up to date with the tables and columns it creates
//     and the columns it widens, and records them in the store after each
//     chunk.
//   - When a chunk fails, the copy may be stale: someone dropped a column,
//     or another load (a backfill beside a sync) made one first, with
//     another type. The load reads the warehouse's schema again, records it
//     in the store in place of the old copy, and if it differs for a table
//     of the chunk, builds the chunk again on it, once (runLoad).
//
// One stale case goes unnoticed: when two loads create the same column at
// once with different types and the one whose type lost records it last,
// the copy says the losing type until the next refresh, and values are
// fitted to it (coerced, or discarded with the reason) rather than to the
// column's real type. Nothing fails and nothing is lost silently.

// loadSchema sets the loader's schema: the store's copy, or the
// warehouse's.
func (l *loader) loadSchema(ctx context.Context) error {
	cached, err := l.a.Store.WarehouseSchema(ctx, l.w.record.ID)
	if err != nil {
		l.log.Warn("reading the cached warehouse schema failed: reading the warehouse's")
	}
	if len(cached) > 0 {
		l.schema = make(map[string]map[string]adapters.Column, len(cached))
		for table, cols := range cached {
			m := make(map[string]adapters.Column, len(cols))
			for _, c := range cols {
				m[lower(c.Name)] = adapters.Column{Name: c.Name, Type: adapters.Type(c.Type)}
			}
			l.schema[table] = m
		}
		l.log.Debug("schema from the store", "tables", len(cached))
		return nil
	}
	schema, err := l.readSchema(ctx)
	if err != nil {
		return err
	}
	l.schema = schema
	l.record(ctx, schema, true)
	return nil
}

// readSchema reads the warehouse's tables and columns.
func (l *loader) readSchema(ctx context.Context) (map[string]map[string]adapters.Column, error) {
	tables, err := l.w.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the warehouse schema: %w", err)
	}
	schema := make(map[string]map[string]adapters.Column, len(tables))
	for name, cols := range tables {
		schema[name] = columnMap(cols)
	}
	return schema, nil
}

// refresh reads the warehouse's schema again after a chunk failed, records
// it in the store, and reports whether it differs from the loader's copy
// for a table of the chunk: then the chunk is worth one more try with the
// fresh schema.
func (l *loader) refresh(ctx context.Context, c *chunkRows) bool {
	if l.schema == nil {
		return false
	}
	fresh, err := l.readSchema(ctx)
	if err != nil {
		return false
	}
	stale := false
	for _, name := range c.order {
		if !maps.Equal(l.schema[name], fresh[name]) {
			stale = true
		}
	}
	l.schema, l.saved = fresh, nil
	l.stats.refreshed++
	l.record(ctx, fresh, true)
	return stale
}

// persist records the tables and columns created or widened since the last
// call in the store's copy of the schema.
func (l *loader) persist(ctx context.Context) {
	if len(l.saved) == 0 {
		return
	}
	changed := make(map[string]map[string]adapters.Column, len(l.saved))
	for _, t := range l.saved {
		cols := changed[t.Name]
		if cols == nil {
			cols = map[string]adapters.Column{}
			changed[t.Name] = cols
		}
		for _, c := range t.Columns {
			if cur, ok := l.schema[t.Name][lower(c.Name)]; ok {
				cols[lower(c.Name)] = cur // the type as the load knows it now
			}
		}
	}
	l.saved = nil
	l.record(ctx, changed, false)
}

// record writes tables into the store's copy of the schema; with replace,
// they become the whole copy. A failure is logged: the copy only saves
// reading the warehouse's schema, and a stale copy is found out.
func (l *loader) record(ctx context.Context, tables map[string]map[string]adapters.Column, replace bool) {
	out := make(map[string][]store.SchemaColumn, len(tables))
	for table, cols := range tables {
		list := make([]store.SchemaColumn, 0, len(cols))
		for _, c := range cols {
			list = append(list, store.SchemaColumn{Name: c.Name, Type: string(c.Type)})
		}
		out[table] = list
	}
	if err := l.a.Store.SaveWarehouseSchema(ctx, l.w.record.ID, out, replace); err != nil && ctx.Err() == nil {
		l.log.Warn("recording the warehouse schema in the store failed", "tables", len(out), "replace", replace)
	}
}
