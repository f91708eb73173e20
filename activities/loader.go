package activities

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
	"github.com/profilesync/profilesync/store"
)

// loader is the state of one load activity: the warehouse, its schema as far
// as the activity knows it, the space's sources and the warehouse's naming
// rules.
type loader struct {
	a       *Activities
	w       *openedWarehouse
	log     *slog.Logger
	sources map[string]*store.Source
	// names names tables (and Track event slugs); traitColumns names the
	// trait columns of profile_traits_updates.
	names, traitColumns columns.Namer

	// schema maps table → lowercased column name → column, for the tables
	// the activity has seen; nil until first needed.
	schema     map[string]map[string]adapters.Column
	maxColumns int

	stats struct {
		discarded   int64 // values sent to the discards table
		malformed   int64 // events whose payload could not be parsed
		unknownType int64 // events of a type without a table
	}
}

func newLoader(a *Activities, w *openedWarehouse, log *slog.Logger) *loader {
	l := &loader{a: a, w: w, log: log, sources: map[string]*store.Source{}}
	rules := columns.DialectRules(w.record.Type)
	if d, ok := w.Warehouse.(interface{ Dialect() adapters.Dialect }); ok {
		rules = columns.RulesFor(d.Dialect())
		l.maxColumns = d.Dialect().MaxColumns()
	}
	l.names = columns.NewNamer(rules)
	l.traitColumns = l.names.ForTraits()
	return l
}

// prepare makes the warehouse ready for a chunk's rows and returns them for
// the adapter: each value that does not fit the type of its existing column
// goes to the discards table, columns past the warehouse's limit too, and
// missing tables and columns are created (Schemas.EnsureTable) with the
// types of the chunk's columns.
func (l *loader) prepare(ctx context.Context, c *chunkRows) ([]adapters.Rows, error) {
	if l.schema == nil {
		tables, err := l.w.Tables(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the warehouse schema: %w", err)
		}
		l.schema = make(map[string]map[string]adapters.Column, len(tables))
		for name, cols := range tables {
			l.schema[name] = columnMap(cols)
		}
	}
	out := make([]adapters.Rows, 0, len(c.order))
	for _, name := range c.order {
		if name == adapters.TableDiscards {
			continue // last: fitting the other tables may add to it
		}
		rows, err := l.fit(ctx, c, c.tables[name], true)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	if t, ok := c.tables[adapters.TableDiscards]; ok {
		rows, err := l.fit(ctx, c, t, false)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// fit fits one table's rows to the warehouse (see prepare) and returns them
// for the adapter (none if the table has no rows). A column keeps the type
// it has in the warehouse; a new one takes the chunk's type. Values of
// another type are converted with columns.Coerce, and those that do not
// convert go to the discards table (without canDiscard, for the discards
// table itself, they become NULL). New columns are added as columns.Plan
// says; those past the warehouse's column limit are left out and their
// values discarded.
func (l *loader) fit(ctx context.Context, c *chunkRows, t *tableRows, canDiscard bool) ([]adapters.Rows, error) {
	if len(t.rows) == 0 {
		return nil, nil
	}
	existing := l.schema[t.name]
	idCol, recCol := t.index["id"], -1
	if i, ok := t.index["received_at"]; ok {
		recCol = i
	}
	// discard sends the value of column col of row r to the discards table.
	discard := func(r, col int, reason string) {
		if !canDiscard {
			return
		}
		id, _ := t.value(r, idCol).(string)
		var rec any
		if recCol >= 0 {
			rec = t.value(r, recCol)
		}
		c.discard(t.name, t.cols[col].Name, t.value(r, col), reason, id, rec)
		l.stats.discarded++
	}
	incoming := map[string]adapters.Type{}
	newCols := map[string]int{}
	for i, col := range t.cols {
		ex, ok := existing[lower(col.Name)]
		if !ok {
			incoming[col.Name] = col.Type
			newCols[col.Name] = i
			ex = col
		} else if ex.Name != col.Name {
			t.rename(i, ex.Name)
		}
		if ex.Type == col.Type && !t.mixed[i] {
			continue
		}
		t.cols[i].Type = ex.Type
		for r := range t.rows {
			v := t.value(r, i)
			if v == nil || typeOf(v) == ex.Type {
				continue
			}
			cv, err := columns.Coerce(v, ex.Type, 0)
			if err != nil {
				discard(r, i, err.Error())
				cv = nil
			}
			t.rows[r][i] = cv
		}
	}
	if existing != nil && len(incoming) == 0 {
		return []adapters.Rows{t.adapterRows()}, nil
	}
	have := make([]adapters.Column, 0, len(existing))
	for _, col := range existing {
		have = append(have, col)
	}
	add, _, overflow := columns.Plan(have, incoming, l.maxColumns)
	for _, name := range overflow {
		i := newCols[name]
		for r := range t.rows {
			if t.value(r, i) != nil {
				discard(r, i, fmt.Sprintf("table %s has the most columns the warehouse allows (%d)", t.name, l.maxColumns))
			}
		}
		t.drop(i)
	}
	if existing == nil || len(add) > 0 {
		table := adapters.Table{Name: t.name, Columns: t.columns()}
		if err := l.w.EnsureTable(ctx, table); err != nil {
			return nil, fmt.Errorf("creating columns of %s: %w", t.name, err)
		}
		if existing == nil {
			existing = map[string]adapters.Column{}
			l.schema[t.name] = existing
		}
		for _, col := range table.Columns {
			if _, ok := existing[lower(col.Name)]; !ok {
				existing[lower(col.Name)] = col
			}
		}
		l.log.Info("columns added", "table", t.name, "columns", len(add), "overflow", len(overflow))
	}
	return []adapters.Rows{t.adapterRows()}, nil
}

func columnMap(cols []adapters.Column) map[string]adapters.Column {
	m := make(map[string]adapters.Column, len(cols))
	for _, c := range cols {
		m[lower(c.Name)] = c
	}
	return m
}
