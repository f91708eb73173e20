package activities

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// loader is the state of one load activity: the warehouse, its schema as far
// as the activity knows it, the space's sources and the warehouse's naming
// rules.
//
// Two goroutines share it, never at the same time on the same fields: the
// one that reads and builds a chunk (job.read: names, sources, flattener
// and the caches of eventTableNames, eventColumns and eventDefs) and the one that
// fits and loads the previous chunk meanwhile (prepare, fit, ensure, widen:
// schema and stats). Each chunk counts its rows in its own chunkRows.
type loader struct {
	a       *Activities
	w       *openedWarehouse
	log     *slog.Logger
	sources map[string]*store.Source
	// names names tables (and Track event slugs); traitColumns names the
	// trait columns of profile_traits_updates.
	names, traitColumns columns.Namer
	// eventTableNames caches the table of each Track event name,
	// eventColumns the column names of each kind of event table (see
	// namerKind), eventDefs the standard columns of each kind.
	eventTableNames map[string]string
	eventColumns    map[string]*namerCache
	eventDefs       map[string]adapters.Table
	// flattener flattens properties, traits and context, keeping their
	// keys.
	flattener *columns.Flattener

	// schema is the activity's copy of the warehouse's schema: table →
	// lowercased column name → column, read once when first needed (see
	// loadSchema) and kept up to date with the tables and columns the
	// activity creates and widens. refresh reads it again. saved holds the
	// changes not yet recorded in the store's copy.
	schema     map[string]map[string]adapters.Column
	saved      []adapters.Table
	maxColumns int
	// maxString is the longest string a String column takes
	// (columns.MaxStringLength of the dialect).
	maxString int

	// selection leaves out what selective sync turned off; nil loads
	// everything.
	selection *selection

	// stats counts what the load did to the schema, and the rowCounts of
	// the chunks it loaded.
	stats loadStats
}

// loadStats are the counts a load logs.
type loadStats struct {
	rowCounts
	widened   int64 // columns widened from integer to float
	tables    int64 // tables created
	columns   int64 // columns added to existing tables
	refreshed int64 // times the schema was read again after a failed chunk
}

// rowCounts are the counts of one chunk's rows, added to the load's when
// the chunk is loaded.
type rowCounts struct {
	discarded   int64 // values sent to the discards table
	malformed   int64 // events whose payload could not be parsed
	unknownType int64 // events of a type without a table
}

func (c *rowCounts) add(o rowCounts) {
	c.discarded += o.discarded
	c.malformed += o.malformed
	c.unknownType += o.unknownType
}

func newLoader(a *Activities, w *openedWarehouse, log *slog.Logger) *loader {
	l := &loader{
		a: a, w: w, log: log, sources: map[string]*store.Source{},
		eventTableNames: map[string]string{},
		eventColumns:    map[string]*namerCache{},
		eventDefs:       map[string]adapters.Table{},
		flattener:       columns.NewFlattener(),
	}
	dialect := w.record.Type
	rules := columns.DialectRules(dialect)
	if d, ok := w.Warehouse.(interface{ Dialect() adapters.Dialect }); ok {
		dialect = d.Dialect().Name()
		rules = columns.RulesFor(d.Dialect())
		l.maxColumns = d.Dialect().MaxColumns()
	}
	l.maxString = columns.MaxStringLength(dialect)
	// A Track event called "Events" must not pass for the report row of the
	// events load.
	l.names = columns.NewNamer(rules).ReservingTables(workflows.ReportEvents, workflows.ReportMaterialize)
	l.traitColumns = l.names.ForTraits()
	return l
}

// prepare makes the warehouse ready for a chunk's rows and returns them for
// the adapter: each value that does not fit the type of its existing column
// goes to the discards table, columns past the warehouse's limit too, and
// missing tables and columns are created (Schemas.EnsureTable, or
// adapters.TablesEnsurer for all of them at once where the adapter has it)
// with the types of the chunk's columns.
func (l *loader) prepare(ctx context.Context, c *chunkRows) ([]adapters.Rows, error) {
	l.selection.apply(c)
	if l.schema == nil {
		if err := l.loadSchema(ctx); err != nil {
			return nil, err
		}
	}
	var ensure []adapters.Table
	fitted := make([]*tableRows, 0, len(c.order))
	for _, name := range c.order {
		if name == adapters.TableDiscards {
			continue // last: fitting the other tables may add to it
		}
		t := c.tables[name]
		need, err := l.fit(ctx, c, t, true)
		if err != nil {
			return nil, err
		}
		if need {
			ensure = append(ensure, adapters.Table{Name: t.name, Columns: t.columns()})
		}
		fitted = append(fitted, t)
	}
	if t, ok := c.tables[adapters.TableDiscards]; ok {
		need, err := l.fit(ctx, c, t, false)
		if err != nil {
			return nil, err
		}
		if need {
			ensure = append(ensure, adapters.Table{Name: t.name, Columns: t.columns()})
		}
		fitted = append(fitted, t)
	}
	if err := l.ensure(ctx, ensure); err != nil {
		return nil, err
	}
	l.persist(ctx)
	out := make([]adapters.Rows, 0, len(fitted))
	for _, t := range fitted {
		if len(t.rows) > 0 {
			out = append(out, t.adapterRows())
		}
	}
	return out, nil
}

// ensure creates the tables and columns a chunk needs and records them in
// the schema cache.
func (l *loader) ensure(ctx context.Context, tables []adapters.Table) error {
	if len(tables) == 0 {
		return nil
	}
	if e, ok := l.w.Warehouse.(adapters.TablesEnsurer); ok && len(tables) > 1 {
		if err := e.EnsureTables(ctx, tables); err != nil {
			return fmt.Errorf("creating %d tables and their columns: %w", len(tables), err)
		}
	} else {
		for _, t := range tables {
			if err := l.w.EnsureTable(ctx, t); err != nil {
				return fmt.Errorf("creating columns of %s: %w", t.Name, err)
			}
		}
	}
	l.saved = append(l.saved, tables...)
	for _, t := range tables {
		existing, known := l.schema[t.Name]
		if !known {
			existing = map[string]adapters.Column{}
			l.schema[t.Name] = existing
			l.stats.tables++
		}
		for _, col := range t.Columns {
			if _, ok := existing[lower(col.Name)]; !ok {
				existing[lower(col.Name)] = col
				if known {
					l.stats.columns++
				}
			}
		}
	}
	l.log.Debug("tables ensured", "tables", len(tables))
	return nil
}

// fit fits one table's rows to the warehouse (see prepare) and reports
// whether the table or some of its columns need creating:
//
//   - A column keeps the type it has in the warehouse; a new one takes the
//     chunk's type (that of its first non-null value, integers and floats
//     making a float). An integer column that receives floats is widened to
//     float when the adapter can (widener); otherwise the floats are
//     coerced, and those with a fraction discarded.
//   - New columns are added as columns.Plan says: the standard columns
//     first, then the others in name order; those past the warehouse's
//     column limit are left out and their values discarded. A new column
//     whose every value was discarded is not created.
//   - Values of another type are converted with columns.Coerce; those that
//     do not convert, and strings longer than the dialect's maximum, go to
//     the discards table with Coerce's reason. Without canDiscard (the
//     discards table itself) they become NULL, and strings are not limited.
func (l *loader) fit(ctx context.Context, c *chunkRows, t *tableRows, canDiscard bool) (bool, error) {
	if len(t.rows) == 0 {
		return false, nil
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
		c.counts.discarded++
	}

	// The columns the warehouse lacks, and those it can widen.
	have := make([]adapters.Column, 0, len(existing)+t.std)
	var incoming map[string]adapters.Type
	var newCols []int
	for i, col := range t.cols {
		ex, ok := existing[lower(col.Name)]
		if !ok {
			newCols = append(newCols, i)
			if i < t.std {
				have = append(have, col) // standard columns come first
				continue
			}
			if incoming == nil {
				incoming = map[string]adapters.Type{}
			}
			incoming[col.Name] = col.Type
			continue
		}
		if ex.Name != col.Name {
			t.rename(i, ex.Name)
		}
		if to, widens := columns.Widen(ex.Type, col.Type); widens {
			l.widen(ctx, t.name, ex, to)
		}
	}
	if len(incoming) > 0 {
		for _, col := range existing {
			have = append(have, col)
		}
		_, _, overflow := columns.Plan(have, incoming, l.maxColumns)
		for _, name := range overflow {
			i := t.index[name]
			for r := range t.rows {
				if t.value(r, i) != nil {
					discard(r, i, fmt.Sprintf("table %s has the most columns the warehouse allows (%d)", t.name, l.maxColumns))
				}
			}
			t.drop(i)
		}
	}

	// The values, converted to their column's type.
	maxString := l.maxString
	if !canDiscard {
		maxString = 0
	}
	for i, col := range t.cols {
		if t.dropped[i] {
			continue
		}
		typ := col.Type
		if ex, ok := existing[lower(col.Name)]; ok {
			typ = ex.Type
		}
		long := t.long[i] && canDiscard && typ == adapters.String
		if typ == col.Type && !t.mixed[i] && !long {
			continue
		}
		t.cols[i].Type = typ
		for r := range t.rows {
			v := t.value(r, i)
			if v == nil {
				continue
			}
			if vt := typeOf(v); vt == typ && (vt != adapters.String || !long || storable(v.(string), maxString)) {
				continue
			}
			cv, err := columns.Coerce(v, typ, maxString)
			if err != nil {
				discard(r, i, err.Error())
				cv = nil
			}
			t.rows[r][i] = cv
		}
	}

	// A column comes with its first stored value: a new column whose every
	// value was discarded is not created.
	added := 0
	for _, i := range newCols {
		if t.dropped[i] {
			continue
		}
		if i < t.std || slices.ContainsFunc(t.rows, func(row []any) bool { return i < len(row) && row[i] != nil }) {
			added++
		} else {
			t.drop(i)
		}
	}
	return existing == nil || added > 0, nil
}

// storable reports whether a string can go into a string column: not longer
// than maxString (0: any length) and without a NUL.
func storable(s string, maxString int) bool {
	return (maxString == 0 || len(s) <= maxString) && strings.IndexByte(s, 0) < 0
}

// widen widens an existing column to type to, if the adapter can
// (adapters.Widener), and records the new type in the schema cache. If it
// cannot, or the widening fails (a view depends on the column, say), the
// column keeps its type and the values are coerced to it or discarded, as
// fit says: the load goes on.
func (l *loader) widen(ctx context.Context, table string, col adapters.Column, to adapters.Type) {
	w, ok := l.w.Warehouse.(adapters.Widener)
	if !ok || !adapters.CanWiden(col.Type, to) {
		return
	}
	if err := w.WidenColumn(ctx, table, col.Name, to); err != nil {
		if ctx.Err() == nil {
			l.log.Warn("widening a column failed: its values are coerced instead", "from", col.Type, "to", to)
		}
		return
	}
	col.Type = to
	l.schema[table][lower(col.Name)] = col
	l.stats.widened++
	l.saved = append(l.saved, adapters.Table{Name: table, Columns: []adapters.Column{col}})
	// profile_traits takes its trait columns, and their types, from
	// profile_traits_updates when Materialize creates them: widen it alike,
	// or Materialize would round the fractions into the integer column.
	// Materialize makes that table, so the schema copy may not know it: try.
	if table == adapters.TableProfileTraitsUpdates {
		if err := w.WidenColumn(ctx, adapters.TableProfileTraits, col.Name, to); err != nil {
			l.log.Debug("profile_traits not widened (no such table or column yet?)", "to", to)
		} else if pt, ok := l.schema[adapters.TableProfileTraits][lower(col.Name)]; ok {
			pt.Type = to
			l.schema[adapters.TableProfileTraits][lower(col.Name)] = pt
		}
	}
}

func columnMap(cols []adapters.Column) map[string]adapters.Column {
	m := make(map[string]adapters.Column, len(cols))
	for _, c := range cols {
		m[lower(c.Name)] = c
	}
	return m
}
