package activities

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// widener is what an adapter offers when it can widen a column's type in
// place (an integer column to a float one). Adapters without it keep the
// column's type: values are coerced to it or discarded.
type widener interface {
	WidenColumn(ctx context.Context, table, column string, to adapters.Type) error
}

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

	// schema is the activity's cache of the warehouse's schema: table →
	// lowercased column name → column, read once (Schemas.Tables) when
	// first needed and kept up to date with the tables and columns the
	// activity creates. refresh reads it again.
	schema     map[string]map[string]adapters.Column
	maxColumns int
	// maxString is the longest string a String column takes
	// (columns.MaxStringLength of the dialect).
	maxString int

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

// refresh reads the warehouse's schema again after a chunk failed, and
// reports whether it differs from the cache for a table of the chunk: a
// column another load added or retyped, a table or column someone dropped.
// Then the chunk is worth one more try with the fresh schema.
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
	l.schema = fresh
	l.stats.refreshed++
	return stale
}

// tablesEnsurer is what an adapter offers when it can create and extend
// many tables at once (one transaction, one lock, one catalog read): a
// chunk of events may bring hundreds of new Track event tables.
type tablesEnsurer interface {
	EnsureTables(ctx context.Context, tables []adapters.Table) error
}

// prepare makes the warehouse ready for a chunk's rows and returns them for
// the adapter: each value that does not fit the type of its existing column
// goes to the discards table, columns past the warehouse's limit too, and
// missing tables and columns are created (Schemas.EnsureTable, or
// EnsureTables for all of them at once where the adapter has it) with the
// types of the chunk's columns.
func (l *loader) prepare(ctx context.Context, c *chunkRows) ([]adapters.Rows, error) {
	if l.schema == nil {
		schema, err := l.readSchema(ctx)
		if err != nil {
			return nil, err
		}
		l.schema = schema
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
	if e, ok := l.w.Warehouse.(tablesEnsurer); ok && len(tables) > 1 {
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
			if err := l.widen(ctx, t.name, ex, to); err != nil {
				return false, err
			}
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
		long := t.long[i] && maxString > 0 && typ == adapters.String
		if typ == col.Type && !t.mixed[i] && !long {
			continue
		}
		t.cols[i].Type = typ
		for r := range t.rows {
			v := t.value(r, i)
			if v == nil {
				continue
			}
			if vt := typeOf(v); vt == typ && (vt != adapters.String || !long || len(v.(string)) <= maxString) {
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

// widen widens an existing column to type to, if the adapter can, and
// records the new type in the schema cache. Without a widener the column
// keeps its type.
func (l *loader) widen(ctx context.Context, table string, col adapters.Column, to adapters.Type) error {
	w, ok := l.w.Warehouse.(widener)
	if !ok {
		return nil
	}
	if err := w.WidenColumn(ctx, table, col.Name, to); err != nil {
		return fmt.Errorf("widening %s.%s to %s: %w", table, col.Name, to, err)
	}
	col.Type = to
	l.schema[table][lower(col.Name)] = col
	l.stats.widened++
	return nil
}

func columnMap(cols []adapters.Column) map[string]adapters.Column {
	m := make(map[string]adapters.Column, len(cols))
	for _, c := range cols {
		m[lower(c.Name)] = c
	}
	return m
}
