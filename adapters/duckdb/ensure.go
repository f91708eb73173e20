package duckdb

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

var _ adapters.TablesEnsurer = (*Warehouse)(nil)

// ensureTablesBatch is how many tables one transaction of EnsureTables
// creates or extends.
const ensureTablesBatch = 500

// EnsureTables does what EnsureTable does for each table,
// ensureTablesBatch tables per transaction, reading the schema's columns
// once per transaction instead of once per table.
func (w *Warehouse) EnsureTables(ctx context.Context, tables []adapters.Table) error {
	for batch := range slices.Chunk(tables, ensureTablesBatch) {
		err := w.do(ctx, "ensure tables", func(c *sql.Conn) error {
			return inTx(ctx, c, func() error {
				existing, err := w.tables(ctx, c, "")
				if err != nil {
					return err
				}
				have := make(map[string][]adapters.Column, len(existing))
				for name, cols := range existing {
					have[strings.ToLower(name)] = cols
				}
				for _, t := range batch {
					t, key := withKey(t)
					if err := checkTable(t); err != nil {
						return err
					}
					if err := w.ensureTableWith(ctx, c, t, key, have[strings.ToLower(t.Name)]); err != nil {
						return err
					}
					// A table named twice in the batch exists the second time.
					cols := have[strings.ToLower(t.Name)]
					for _, col := range t.Columns {
						if !slices.ContainsFunc(cols, func(c adapters.Column) bool { return strings.EqualFold(c.Name, col.Name) }) {
							cols = append(cols, col)
						}
					}
					have[strings.ToLower(t.Name)] = cols
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}
