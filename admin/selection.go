package admin

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// Selective sync: turn event tables, or columns of them, on and off per
// warehouse. Off keeps what the warehouse holds and stops new data; on syncs
// new data and, when asked, backfills the gap: the events received while it
// was off.
//
// The identity tables are always synced: the current-state tables are built
// from them. The standard columns of an event table (id, received_at, …)
// cannot be turned off.

// TableSelection is a table of a warehouse with its selective-sync state.
type TableSelection struct {
	Table     string            `json:"table"`
	Enabled   bool              `json:"enabled"`
	ChangedAt time.Time         `json:"changed_at,omitzero"`
	Columns   []ColumnSelection `json:"columns,omitempty"`
}

// ColumnSelection is a column of a table with its selective-sync state.
type ColumnSelection struct {
	Name      string    `json:"name"`
	Type      string    `json:"type,omitempty"`
	Enabled   bool      `json:"enabled"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
}

// SetSelection turns a table, or a column of it, on or off.
type SetSelection struct {
	Enabled bool   `json:"enabled"`
	Column  string `json:"column,omitempty"`
	// BackfillGap, when turning on something that was off, backfills the
	// events received while it was off.
	BackfillGap bool `json:"backfill_gap,omitempty"`
}

// SelectionChanged is the answer to SetSelection.
type SelectionChanged struct {
	Table   string `json:"table"`
	Column  string `json:"column,omitempty"`
	Enabled bool   `json:"enabled"`
	// Gap is the window the table or column was off, when it is turned on
	// again: the events received then are not in the warehouse unless
	// backfilled.
	Gap *Backfill `json:"gap,omitempty"`
	// BackfillWorkflowID is the backfill of the gap, when asked for.
	BackfillWorkflowID string `json:"backfill_workflow_id,omitempty"`
}

// validTable matches the names the column namer gives landed tables.
var validTable = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,254}$`)

// alwaysSynced are the tables selective sync cannot turn off.
func alwaysSynced(table string) bool {
	for _, t := range adapters.IdentityTables() {
		if t.Name == table {
			return true
		}
	}
	return slices.Contains(adapters.MaterializedTables(), table) || table == adapters.TableDiscards
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	if _, err := s.store.GetWarehouse(ctx, id); err != nil {
		return err
	}
	schema, err := s.store.WarehouseSchema(ctx, id)
	if err != nil {
		return err
	}
	sels, err := s.store.Selections(ctx, id)
	if err != nil {
		return err
	}
	tables := map[string]*TableSelection{}
	get := func(name string) *TableSelection {
		if tables[name] == nil {
			tables[name] = &TableSelection{Table: name, Enabled: true}
		}
		return tables[name]
	}
	for _, name := range adapters.EventTypeTables() {
		get(name)
	}
	for name, cols := range schema {
		if alwaysSynced(name) || strings.HasPrefix(name, "_profilesync") {
			continue
		}
		t := get(name)
		for _, c := range cols {
			t.Columns = append(t.Columns, ColumnSelection{Name: c.Name, Type: c.Type, Enabled: true})
		}
	}
	for _, sel := range sels {
		t := get(sel.Table)
		if sel.Column == "" {
			t.Enabled, t.ChangedAt = sel.Enabled, sel.ChangedAt
			continue
		}
		i := slices.IndexFunc(t.Columns, func(c ColumnSelection) bool { return c.Name == sel.Column })
		if i < 0 {
			t.Columns = append(t.Columns, ColumnSelection{Name: sel.Column})
			i = len(t.Columns) - 1
		}
		t.Columns[i].Enabled, t.Columns[i].ChangedAt = sel.Enabled, sel.ChangedAt
	}
	out := make([]TableSelection, 0, len(tables))
	for _, t := range tables {
		slices.SortFunc(t.Columns, func(a, b ColumnSelection) int { return compare(a.Name, b.Name) })
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TableSelection) int { return compare(a.Table, b.Table) })
	return writeJSON(w, http.StatusOK, out)
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Server) setSelection(w http.ResponseWriter, r *http.Request) error {
	ctx, id, table := r.Context(), r.PathValue("id"), r.PathValue("table")
	var in SetSelection
	if err := decode(r, &in); err != nil {
		return err
	}
	if _, err := s.store.GetWarehouse(ctx, id); err != nil {
		return err
	}
	switch {
	case !validTable.MatchString(table) || strings.HasPrefix(table, "_profilesync"):
		return badRequest("table %q: not a landed table name", table)
	case alwaysSynced(table):
		return badRequest("%s is always synced: the current-state tables are built from the identity tables", table)
	case in.Column != "" && slices.ContainsFunc(adapters.EventTable(table).Columns, func(c adapters.Column) bool { return c.Name == in.Column }):
		return badRequest("%s.%s is a standard column and is always synced", table, in.Column)
	case in.BackfillGap && !in.Enabled:
		return badRequest("backfill_gap goes with turning a table or column on")
	}
	if in.BackfillGap {
		// Fail before changing anything if a backfill cannot start.
		st, err := s.query(ctx, id)
		if err != nil {
			return err
		}
		if st.State != workflows.StateEnabled {
			return &httpError{http.StatusConflict, "a gap backfill needs the warehouse enabled; it is " + st.State}
		}
	}
	now := time.Now().UTC()
	prev, err := s.store.SetSelection(ctx, id, store.Selection{Table: table, Column: in.Column, Enabled: in.Enabled, ChangedAt: now})
	if err != nil {
		return err
	}
	out := SelectionChanged{Table: table, Column: in.Column, Enabled: in.Enabled}
	if in.Enabled && !prev.Enabled {
		out.Gap = &Backfill{From: prev.ChangedAt, To: now}
	}
	s.log.Info("selective sync changed", "warehouse", id, "table", table, "column", in.Column, "enabled", in.Enabled, "by", actorOf(r).Name)
	if in.BackfillGap && out.Gap != nil {
		var wfID string
		err := s.update(ctx, id, workflows.UpdateBackfill, workflows.BackfillRequest{
			Actor: actorOf(r), From: out.Gap.From, To: out.Gap.To, Tables: []string{table}}, &wfID)
		if err != nil {
			return err
		}
		out.BackfillWorkflowID = wfID
	}
	return writeJSON(w, http.StatusOK, out)
}
