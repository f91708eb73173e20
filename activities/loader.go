package activities

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
)

// loader is the state of one load activity: the warehouse, its schema as far
// as the activity knows it, the space's sources and the trait namer.
type loader struct {
	a       *Activities
	w       *openedWarehouse
	log     *slog.Logger
	sources map[string]*store.Source
	namer   *traitNamer

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
	maxIdent := 0
	if d, ok := w.Warehouse.(interface{ Dialect() adapters.Dialect }); ok {
		maxIdent = d.Dialect().MaxIdentLength()
		l.maxColumns = d.Dialect().MaxColumns()
	}
	l.namer = newTraitNamer(adapters.ReservedTraitColumns(), maxIdent)
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
// for the adapter (none if the table has no rows). Without canDiscard (the
// discards table itself) a value that does not fit becomes NULL.
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
	var missing []int
	for i, col := range t.cols {
		ex, ok := existing[lower(col.Name)]
		if !ok {
			missing = append(missing, i)
			continue
		}
		if ex.Name != col.Name {
			t.rename(i, ex.Name)
		}
		if ex.Type == col.Type {
			continue
		}
		// Fit the values into the column's type; those that do not fit
		// are discarded.
		for r := range t.rows {
			v := t.value(r, i)
			if v == nil {
				continue
			}
			if cv, ok := coerce(v, ex.Type); ok {
				t.rows[r][i] = cv
				continue
			}
			discard(r, i, fmt.Sprintf("a %s value does not fit the %s column", typeOf(v), ex.Type))
			t.rows[r][i] = nil
		}
		t.cols[i].Type = ex.Type
	}
	if existing != nil && len(missing) == 0 {
		return []adapters.Rows{t.adapterRows()}, nil
	}
	// Columns past the warehouse's limit are left out, their values
	// discarded; the rest are added.
	if l.maxColumns > 0 && len(existing)+len(missing) > l.maxColumns {
		room := max(l.maxColumns-len(existing), 0)
		for _, i := range missing[room:] {
			for r := range t.rows {
				if t.value(r, i) != nil {
					discard(r, i, fmt.Sprintf("table %s has the most columns the warehouse allows (%d)", t.name, l.maxColumns))
				}
			}
			t.drop(i)
		}
		missing = missing[:room]
	}
	if existing == nil || len(missing) > 0 {
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
		l.log.Info("columns added", "table", t.name, "columns", len(missing))
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
