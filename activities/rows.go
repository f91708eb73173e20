package activities

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
)

// chunkRows collects the landed rows of one chunk, per table, with the
// columns they use. Tables and columns are added as rows need them, so a
// chunk can carry any table (event type tables, Track event tables,
// discards) and any column (traits, flattened properties).
type chunkRows struct {
	uuidTS time.Time // the load time of every row of the chunk
	// maxString is the longest string a column takes (0: no limit);
	// columns with longer values are marked for loader.fit.
	maxString int
	tables    map[string]*tableRows
	order     []string // table names, in the order rows first came
	counts    rowCounts
}

func newChunkRows(uuidTS time.Time, maxString int) *chunkRows {
	return &chunkRows{uuidTS: uuidTS, maxString: maxString, tables: map[string]*tableRows{}}
}

// table returns the rows of table t.Name, starting them with t's standard
// columns if the chunk has none yet.
func (c *chunkRows) table(t adapters.Table) *tableRows {
	if tr, ok := c.tables[t.Name]; ok {
		return tr
	}
	tr := &tableRows{name: t.Name, index: map[string]int{}, maxString: c.maxString}
	for _, col := range t.Columns {
		tr.column(col.Name, col.Type)
	}
	tr.std = len(tr.cols)
	c.tables[t.Name] = tr
	c.order = append(c.order, t.Name)
	return tr
}

// discard records a value that could not be stored, in the discards table
// (segment-semantics §1.4: nothing is lost silently). The discard's id is
// stable, so reloading the chunk replaces it.
func (c *chunkRows) discard(table, column string, value any, reason, rowID string, receivedAt any) {
	t := c.table(adapters.Discards())
	r := t.row()
	r.set("id", adapters.String, discardID(table, column, rowID, textOf(value), reason))
	r.set("table_name", adapters.String, table)
	r.set("column_name", adapters.String, column)
	if value != nil {
		// A NUL cannot be stored in text: the discarded value keeps it
		// escaped, as JSON writes it.
		r.set("column_value", adapters.String, strings.ReplaceAll(textOf(value), "\x00", `\u0000`))
	}
	r.set("reason", adapters.String, reason)
	r.set("row_id", adapters.String, rowID)
	r.set("received_at", adapters.Timestamp, receivedAt)
	r.set("uuid_ts", adapters.Timestamp, c.uuidTS)
	r.done()
}

// discardID is the id of a discarded value: the hex of the first 16 bytes
// of SHA-1 over table, column, row id, value and reason (two traits of a row
// can lose the same column).
func discardID(fields ...string) string {
	h := sha1.New()
	for _, s := range fields {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// tableRows is the rows of one table in a chunk. Rows may be shorter than
// the column list (columns added after them); they are padded with NULLs
// when handed to the adapter.
type tableRows struct {
	name string
	cols []adapters.Column
	// std is the number of standard columns, which come first and are
	// created with the table even when the chunk has no value for them.
	std     int
	index   map[string]int // column name → position in cols
	rows    [][]any
	dropped map[int]bool // columns left out of the load (their values were discarded)
	// mixed marks the columns some of whose values are not of the column's
	// type (a float among integers, a timestamp still in its text): loader.fit
	// coerces them.
	mixed map[int]bool
	// long marks the columns with a string no warehouse column takes
	// (longer than maxString, or holding a NUL): loader.fit discards those
	// values if the column is a string.
	long      map[int]bool
	maxString int
}

// column returns the position of a column, adding it with type typ if the
// table has no such column yet.
func (t *tableRows) column(name string, typ adapters.Type) int {
	if i, ok := t.index[name]; ok {
		return i
	}
	t.cols = append(t.cols, adapters.Column{Name: name, Type: typ})
	t.index[name] = len(t.cols) - 1
	return len(t.cols) - 1
}

// row starts a row; set its values and call done.
func (t *tableRows) row() *rowBuilder {
	return &rowBuilder{t: t, vals: make([]any, len(t.cols))}
}

// value returns the value of a column in row i, nil if it has none.
func (t *tableRows) value(i int, col int) any {
	if col < len(t.rows[i]) {
		return t.rows[i][col]
	}
	return nil
}

// rename renames a column (to the warehouse's spelling of it).
func (t *tableRows) rename(col int, name string) {
	delete(t.index, t.cols[col].Name)
	t.cols[col].Name = name
	t.index[name] = col
}

// drop leaves a column out of the load.
func (t *tableRows) drop(col int) {
	if t.dropped == nil {
		t.dropped = map[int]bool{}
	}
	t.dropped[col] = true
}

// columns returns the columns that are loaded.
func (t *tableRows) columns() []adapters.Column {
	out := make([]adapters.Column, 0, len(t.cols))
	for i, c := range t.cols {
		if !t.dropped[i] {
			out = append(out, c)
		}
	}
	return out
}

// adapterRows returns the rows for the adapter: every row as wide as the
// loaded columns.
func (t *tableRows) adapterRows() adapters.Rows {
	keep := make([]int, 0, len(t.cols))
	names := make([]string, 0, len(t.cols))
	for i, c := range t.cols {
		if !t.dropped[i] {
			keep = append(keep, i)
			names = append(names, c.Name)
		}
	}
	values := make([][]any, len(t.rows))
	for r, row := range t.rows {
		if len(keep) == len(t.cols) && len(row) == len(t.cols) {
			values[r] = row
			continue
		}
		out := make([]any, len(keep))
		for j, i := range keep {
			if i < len(row) {
				out[j] = row[i]
			}
		}
		values[r] = out
	}
	return adapters.Rows{Table: t.name, Columns: names, Values: values}
}

// rowBuilder builds one row of a table.
type rowBuilder struct {
	t    *tableRows
	vals []any
}

// set sets a column's value of type typ, adding the column if needed. A
// column whose values have several types takes the type columns.Widen
// consolidates them to (int and float make float; otherwise the type of the
// first value stays), and loader.fit coerces its values; so it does a value
// whose Go type is not typ's (an RFC 3339 string for a timestamp). Empty
// strings, zero times and nil are NULL.
func (r *rowBuilder) set(name string, typ adapters.Type, v any) {
	v = nullIfEmpty(v)
	if v == nil {
		return
	}
	i := r.t.column(name, typ)
	if col := &r.t.cols[i]; col.Type != typ || typeOf(v) != typ {
		col.Type, _ = columns.Widen(col.Type, typ)
		if r.t.mixed == nil {
			r.t.mixed = map[int]bool{}
		}
		r.t.mixed[i] = true
	}
	if s, ok := v.(string); ok && (r.t.maxString > 0 && len(s) > r.t.maxString || strings.IndexByte(s, 0) >= 0) {
		if r.t.long == nil {
			r.t.long = map[int]bool{}
		}
		r.t.long[i] = true
	}
	if i >= len(r.vals) {
		r.vals = append(r.vals, make([]any, i+1-len(r.vals))...)
	}
	r.vals[i] = v
}

// done adds the row to its table.
func (r *rowBuilder) done() { r.t.rows = append(r.t.rows, r.vals) }

// nullIfEmpty maps the zero values that mean "absent" to nil.
func nullIfEmpty(v any) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return x.UTC()
	}
	return v
}

// lower is the key of a column name in a warehouse that compares names
// case-insensitively (DuckDB); exact elsewhere, which is the same for the
// lowercase names we create.
func lower(s string) string { return strings.ToLower(s) }
