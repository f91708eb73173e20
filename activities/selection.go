package activities

import (
	"context"
	"fmt"
	"slices"

	"github.com/profilesync/profilesync/adapters"
)

// selection is what of the event tables a load lands: selective sync's
// disabled tables and columns, and a backfill's list of tables.
//
// Off means new data stops and what the warehouse holds stays: the rows of a
// disabled table and the values of a disabled column are left out of the
// chunk (with their discards), and a disabled column that does not exist yet
// is not created.
type selection struct {
	only     map[string]bool            // nil: every table; else just these
	disabled map[string]bool            // tables turned off
	columns  map[string]map[string]bool // table → columns turned off
}

// loadSelection reads a warehouse's selective-sync choices; only, when not
// empty, limits the load to those tables.
func (a *Activities) loadSelection(ctx context.Context, warehouseID string, only []string) (*selection, error) {
	sels, err := a.Store.Selections(ctx, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("reading the selective sync of warehouse %s: %w", warehouseID, err)
	}
	s := &selection{disabled: map[string]bool{}, columns: map[string]map[string]bool{}}
	if len(only) > 0 {
		s.only = map[string]bool{}
		for _, t := range only {
			s.only[t] = true
		}
	}
	for _, sel := range sels {
		if sel.Enabled {
			continue
		}
		if sel.Column == "" {
			s.disabled[sel.Table] = true
			continue
		}
		if s.columns[sel.Table] == nil {
			s.columns[sel.Table] = map[string]bool{}
		}
		s.columns[sel.Table][sel.Column] = true
	}
	return s, nil
}

// table reports whether a table's rows are loaded.
func (s *selection) table(name string) bool {
	if s == nil || name == adapters.TableDiscards {
		return true
	}
	return (s.only == nil || s.only[name]) && !s.disabled[name]
}

// column reports whether a column of a table is loaded.
func (s *selection) column(table, column string) bool {
	return s.table(table) && (s == nil || !s.columns[table][lower(column)] && !s.columns[table][column])
}

// apply removes from a chunk what the selection leaves out: tables, columns
// and the discards of both.
func (s *selection) apply(c *chunkRows) {
	if s == nil || (s.only == nil && len(s.disabled) == 0 && len(s.columns) == 0) {
		return
	}
	c.order = slices.DeleteFunc(c.order, func(name string) bool {
		if s.table(name) {
			return false
		}
		delete(c.tables, name)
		return true
	})
	for name, t := range c.tables {
		if name == adapters.TableDiscards {
			s.filterDiscards(t)
			continue
		}
		for i, col := range t.cols {
			if i >= t.std && !s.column(name, col.Name) {
				t.drop(i)
			}
		}
	}
}

// filterDiscards keeps the discarded values of the tables and columns that
// are loaded.
func (s *selection) filterDiscards(t *tableRows) {
	ti, tok := t.index["table_name"]
	ci, cok := t.index["column_name"]
	if !tok || !cok {
		return
	}
	t.rows = slices.DeleteFunc(t.rows, func(row []any) bool {
		table, _ := at(row, ti).(string)
		column, _ := at(row, ci).(string)
		return !s.column(table, column)
	})
}

func at(row []any, i int) any {
	if i < len(row) {
		return row[i]
	}
	return nil
}
