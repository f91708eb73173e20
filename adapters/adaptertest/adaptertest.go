// Package adaptertest is the conformance suite every warehouse adapter
// passes. An adapter's tests call Run with a function that opens a fresh,
// empty warehouse schema; cloud adapters run it when their credentials are in
// the environment.
//
// The suite reads tables back through Querier, a small interface the adapter's
// Warehouse implements for tests, and builds that SQL through the adapter's
// Dialect, so it runs unchanged on every warehouse.
package adaptertest

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// Querier is implemented by a Warehouse for the conformance suite.
type Querier interface {
	// Dialect is the warehouse's SQL dialect.
	Dialect() adapters.Dialect
	// QualifiedName returns the quoted, schema-qualified name of a table of
	// the warehouse schema.
	QualifiedName(table string) string
	// Query runs a query and returns its rows. Values are nil, string or
	// []byte, an integer, a float, bool or time.Time.
	Query(ctx context.Context, sql string) ([][]any, error)
}

// Open opens a fresh warehouse on an empty schema for one test. The
// warehouse is closed by the suite.
type Open func(t *testing.T) adapters.Warehouse

// Run runs the conformance suite against the warehouses open returns.
func Run(t *testing.T, open Open) {
	t.Run("TestConnection", func(t *testing.T) { testConnection(t, open) })
	t.Run("EnsureSchema", func(t *testing.T) { testEnsureSchema(t, open) })
	t.Run("EnsureTable", func(t *testing.T) { testEnsureTable(t, open) })
	t.Run("EnsureTables", func(t *testing.T) { testEnsureTables(t, open) })
	t.Run("WidenColumn", func(t *testing.T) { testWidenColumn(t, open) })
	t.Run("IdentifierLimits", func(t *testing.T) { testIdentifierLimits(t, open) })
	t.Run("HostileIdentifiers", func(t *testing.T) { testHostileIdentifiers(t, open) })
	t.Run("TypesRoundTrip", func(t *testing.T) { testTypesRoundTrip(t, open) })
	t.Run("LoadMergesByID", func(t *testing.T) { testLoadMergesByID(t, open) })
	t.Run("LoadSeveralTables", func(t *testing.T) { testLoadSeveralTables(t, open) })
	t.Run("LoadWatermarkGap", func(t *testing.T) { testLoadWatermarkGap(t, open) })
	t.Run("FailedLoadChangesNothing", func(t *testing.T) { testFailedLoad(t, open) })
	t.Run("CancelledLoadChangesNothing", func(t *testing.T) { testCancelledLoad(t, open) })
	t.Run("MaterializeCaseStudy", func(t *testing.T) { testMaterializeCaseStudy(t, open) })
}

// env is one test's warehouse with helpers that fail the test on error.
type env struct {
	t   *testing.T
	ctx context.Context
	w   adapters.Warehouse
	q   Querier
	d   adapters.Dialect
}

// setup opens a warehouse and runs EnsureSchema.
func setup(t *testing.T, open Open) *env {
	t.Helper()
	w := open(t)
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	q, ok := w.(Querier)
	if !ok {
		t.Fatalf("%T does not implement adaptertest.Querier", w)
	}
	e := &env{t: t, ctx: t.Context(), w: w, q: q, d: q.Dialect()}
	if err := w.EnsureSchema(e.ctx); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	return e
}

func (e *env) ensure(tables ...adapters.Table) {
	e.t.Helper()
	for _, tb := range tables {
		if err := e.w.EnsureTable(e.ctx, tb); err != nil {
			e.t.Fatalf("EnsureTable(%s): %v", tb.Name, err)
		}
	}
}

func (e *env) load(c adapters.Chunk) adapters.LoadResult {
	e.t.Helper()
	res, err := e.w.Load(e.ctx, c)
	if err != nil {
		e.t.Fatalf("Load(%s, %d..%d): %v", c.Stream, c.After, c.Upto, err)
	}
	return res
}

func (e *env) watermark(stream string) int64 {
	e.t.Helper()
	wm, err := e.w.Watermark(e.ctx, stream)
	if err != nil {
		e.t.Fatalf("Watermark(%s): %v", stream, err)
	}
	return wm
}

func (e *env) columns(table string) []adapters.Column {
	e.t.Helper()
	tables, err := e.w.Tables(e.ctx)
	if err != nil {
		e.t.Fatalf("Tables: %v", err)
	}
	return tables[table]
}

// query runs SQL and returns its rows with normalized values.
func (e *env) query(sql string) [][]any {
	e.t.Helper()
	rows, err := e.q.Query(e.ctx, sql)
	if err != nil {
		e.t.Fatalf("query %q: %v", sql, err)
	}
	for _, r := range rows {
		for i, v := range r {
			r[i] = normalize(v)
		}
	}
	return rows
}

// rows reads the given columns of a table, sorted.
func (e *env) rows(table string, cols ...string) [][]any {
	e.t.Helper()
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = e.d.QuoteIdent(c)
	}
	rows := e.query("SELECT " + strings.Join(quoted, ", ") + " FROM " + e.q.QualifiedName(table))
	sortRows(rows)
	return rows
}

// count returns the number of rows of a table.
func (e *env) count(table string) int64 {
	e.t.Helper()
	rows := e.query("SELECT COUNT(*) FROM " + e.q.QualifiedName(table))
	if len(rows) != 1 || len(rows[0]) != 1 {
		e.t.Fatalf("count %s: got %v", table, rows)
	}
	n, ok := rows[0][0].(int64)
	if !ok {
		e.t.Fatalf("count %s: got %T", table, rows[0][0])
	}
	return n
}

// wantRows fails the test unless got equals want, both normalized and sorted.
func (e *env) wantRows(what string, got, want [][]any) {
	e.t.Helper()
	want = normalizeRows(want)
	sortRows(want)
	if !reflect.DeepEqual(got, want) {
		e.t.Errorf("%s:\n got  %s\n want %s", what, formatRows(got), formatRows(want))
	}
}

// normalizeRows returns a normalized deep copy of rows.
func normalizeRows(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			out[i][j] = normalize(v)
		}
	}
	return out
}

// normalize maps the values drivers return onto nil, string, int64, float64,
// bool and time.Time in UTC.
func normalize(v any) any {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		return int64(v)
	case *big.Int:
		return v.Int64()
	case float32:
		return float64(v)
	case time.Time:
		return v.UTC()
	}
	return v
}

// sortRows sorts rows by their values, nil first.
func sortRows(rows [][]any) {
	slices.SortFunc(rows, func(a, b []any) int {
		for i := range min(len(a), len(b)) {
			if c := compareValues(a[i], b[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a), len(b))
	})
}

func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch a := a.(type) {
	case int64:
		if b, ok := b.(int64); ok {
			return cmp.Compare(a, b)
		}
	case float64:
		if b, ok := b.(float64); ok {
			return cmp.Compare(a, b)
		}
	case time.Time:
		if b, ok := b.(time.Time); ok {
			return a.Compare(b)
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func formatRows(rows [][]any) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range rows {
		if i > 0 {
			b.WriteString("\n       ")
		}
		for j, v := range r {
			if j > 0 {
				b.WriteString(", ")
			}
			switch v := v.(type) {
			case string:
				fmt.Fprintf(&b, "%q", v)
			case time.Time:
				b.WriteString(v.Format(time.RFC3339Nano))
			default:
				fmt.Fprintf(&b, "%v", v)
			}
		}
	}
	b.WriteString("]")
	return b.String()
}

// columnNames returns the names of cols.
func columnNames(cols []adapters.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// columnMap returns cols by name.
func columnMap(cols []adapters.Column) map[string]adapters.Type {
	out := make(map[string]adapters.Type, len(cols))
	for _, c := range cols {
		out[c.Name] = c.Type
	}
	return out
}
