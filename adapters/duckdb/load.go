package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/profilesync/profilesync/adapters"
)

// stagePrefix starts the names of the temporary staging tables of a load.
const stagePrefix = "_profilesync_stage_"

// ctxCheckEvery is how many rows the appender takes between checks of the
// context.
const ctxCheckEvery = 1 << 16

// Watermark returns a stream's watermark, 0 if it has none or the
// watermarks table does not exist yet.
func (w *Warehouse) Watermark(ctx context.Context, stream string) (int64, error) {
	var wm int64
	err := w.do(ctx, "read watermark of "+stream, func(c *sql.Conn) error {
		var err error
		wm, err = w.watermark(ctx, c, stream)
		return err
	})
	return wm, err
}

// watermark reads a stream's watermark on c.
func (w *Warehouse) watermark(ctx context.Context, c *sql.Conn, stream string) (int64, error) {
	var exists bool
	err := c.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables()
		WHERE database_name = current_database() AND schema_name = ? AND table_name = ?`,
		w.schema, WatermarksTable).Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("look up %s: %w", WatermarksTable, err)
	}
	if !exists {
		return 0, nil
	}
	var wm int64
	err = c.QueryRowContext(ctx, "SELECT watermark FROM "+w.table(WatermarksTable)+" WHERE stream = ?", stream).Scan(&wm)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read watermark: %w", err)
	}
	return wm, nil
}

// setWatermark moves a stream's watermark to wm on c.
func (w *Warehouse) setWatermark(ctx context.Context, c *sql.Conn, stream string, wm int64) error {
	_, err := c.ExecContext(ctx, "INSERT INTO "+w.table(WatermarksTable)+` (stream, watermark, updated_at)
		VALUES (?, ?, current_timestamp)
		ON CONFLICT (stream) DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at`,
		stream, wm)
	if err != nil {
		return fmt.Errorf("set watermark: %w", err)
	}
	return nil
}

// Load merges the chunk's rows into their tables by id and moves the
// stream's watermark to c.Upto, in one transaction. Each run of rows is
// appended to a temporary staging table with the DuckDB appender, which
// writes within the transaction, and upserted from there into its table: a
// row with an existing id replaces that row, columns the run lacks included.
// Within a run, the last row with an id wins. The tables and columns must
// exist (see EnsureTable). If the watermark is already at or past c.Upto,
// Load writes nothing and reports Skipped; if the chunk starts past the
// watermark, it fails with adapters.ErrWatermarkGap.
func (w *Warehouse) Load(ctx context.Context, ch adapters.Chunk) (adapters.LoadResult, error) {
	if ch.Stream == "" {
		return adapters.LoadResult{}, fmt.Errorf("%s: load: chunk has no stream", errPrefix)
	}
	if ch.Upto < ch.After {
		return adapters.LoadResult{}, fmt.Errorf("%s: load %s: chunk ends (%d) before it starts (%d)", errPrefix, ch.Stream, ch.Upto, ch.After)
	}
	res := adapters.LoadResult{Rows: map[string]int64{}}
	err := w.do(ctx, "load "+ch.Stream, func(c *sql.Conn) error {
		return inTx(ctx, c, func() error {
			wm, err := w.watermark(ctx, c, ch.Stream)
			if err != nil {
				return err
			}
			if wm >= ch.Upto {
				res.Skipped = true
				return nil
			}
			if ch.After > wm {
				return fmt.Errorf("chunk (%d, %d], watermark %d: %w", ch.After, ch.Upto, wm, adapters.ErrWatermarkGap)
			}
			// One catalog read for the whole chunk: DuckDB scans every
			// table's columns even for a query about one table.
			catalog, err := w.catalog(ctx, c)
			if err != nil {
				return err
			}
			for i, r := range ch.Tables {
				n, err := w.loadRows(ctx, c, stagePrefix+strconv.Itoa(i), r, catalog)
				if err != nil {
					return fmt.Errorf("table %s: %w", r.Table, err)
				}
				res.Rows[r.Table] += n
			}
			if err := w.setWatermark(ctx, c, ch.Stream, ch.Upto); err != nil {
				return err
			}
			return w.hook("load")
		})
	})
	if err != nil {
		return adapters.LoadResult{}, err
	}
	return res, nil
}

// loadRows stages r in a temporary table and upserts it into its table. It
// returns the number of rows merged: the distinct ids of r.
func (w *Warehouse) loadRows(ctx context.Context, c *sql.Conn, stage string, r adapters.Rows, catalog map[string][]adapters.Column) (int64, error) {
	target, types, err := columnTypes(catalog, r)
	if err != nil {
		return 0, err
	}
	keep, n, err := lastByID(r)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	cols := quoteList(r.Columns)
	staged := "temp.main." + stage
	if _, err := c.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+quote(stage)+" AS SELECT "+cols+" FROM "+w.table(r.Table)+" LIMIT 0"); err != nil {
		return 0, fmt.Errorf("create staging table: %w", err)
	}
	if err := c.Raw(func(dc any) error { return appendRows(ctx, dc, stage, r, types, keep) }); err != nil {
		return 0, fmt.Errorf("append to staging table: %w", err)
	}
	if err := w.merge(ctx, c, r.Table, staged, cols, target); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// merge inserts the rows of the staging table into the target, replacing
// the rows whose id is there already. DuckDB upserts (ON CONFLICT, INSERT OR
// REPLACE, MERGE INTO) cost half as much again as a plain insert into a
// table with a primary key, and deleting indexed rows costs ten times as
// much, so merge upserts only the rows whose id exists, found with a cheap
// join, and inserts the others.
func (w *Warehouse) merge(ctx context.Context, c *sql.Conn, table, staged, cols string, target []string) error {
	existing := staged + "_existing"
	steps := []struct{ what, q string }{
		{"find existing ids", "CREATE OR REPLACE TEMP TABLE " + existing + " AS SELECT id FROM " + staged +
			" WHERE id IN (SELECT id FROM " + w.table(table) + ")"},
		{"replace existing rows", "INSERT INTO " + w.table(table) + " (" + cols + ") SELECT " + cols + " FROM " + staged +
			" WHERE id IN (SELECT id FROM " + existing + ") ON CONFLICT (id) DO " + updateAll(target, "id")},
		{"insert new rows", "INSERT INTO " + w.table(table) + " (" + cols + ") SELECT " + cols + " FROM " + staged +
			" WHERE id NOT IN (SELECT id FROM " + existing + ")"},
		{"drop staging tables", "DROP TABLE " + staged + "; DROP TABLE " + existing},
	}
	for _, s := range steps {
		if _, err := c.ExecContext(ctx, s.q); err != nil {
			return fmt.Errorf("merge: %s: %w", s.what, err)
		}
	}
	return nil
}

// updateAll returns the ON CONFLICT action that sets every column but the
// key columns from the excluded row, so that columns the insert does not
// name become NULL.
func updateAll(cols []string, key ...string) string {
	isKey := map[string]bool{}
	for _, k := range key {
		isKey[strings.ToLower(k)] = true
	}
	var set []string
	for _, col := range cols {
		if !isKey[strings.ToLower(col)] {
			set = append(set, quote(col)+" = excluded."+quote(col))
		}
	}
	if len(set) == 0 {
		return "NOTHING"
	}
	return "UPDATE SET " + strings.Join(set, ", ")
}

// catalog returns the columns of the schema's tables by lowercased table
// name (table names compare case-insensitively in DuckDB).
func (w *Warehouse) catalog(ctx context.Context, c *sql.Conn) (map[string][]adapters.Column, error) {
	tables, err := w.tables(ctx, c, "")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]adapters.Column, len(tables))
	for name, cols := range tables {
		out[strings.ToLower(name)] = cols
	}
	return out, nil
}

// columnTypes checks r against its table in catalog and returns the table's
// columns and the types of r's columns.
func columnTypes(catalog map[string][]adapters.Column, r adapters.Rows) ([]string, []adapters.Type, error) {
	if len(r.Columns) == 0 {
		return nil, nil, errors.New("rows have no columns")
	}
	cols, ok := catalog[strings.ToLower(r.Table)]
	if !ok {
		return nil, nil, errors.New("table does not exist")
	}
	have := map[string]adapters.Type{}
	var target []string
	for _, col := range cols {
		have[strings.ToLower(col.Name)] = col.Type
		target = append(target, col.Name)
	}
	types := make([]adapters.Type, len(r.Columns))
	seen := map[string]bool{}
	for i, name := range r.Columns {
		key := strings.ToLower(name)
		t, ok := have[key]
		if !ok {
			return nil, nil, fmt.Errorf("column %s does not exist", name)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("column %s appears twice", name)
		}
		seen[key] = true
		types[i] = t
	}
	if !seen["id"] {
		return nil, nil, errors.New(`rows have no "id" column`)
	}
	return target, types, nil
}

// lastByID marks the rows to load: for each id, the last row that has it.
// It returns the marks and their number, and fails on a missing or non-string
// id or a row of the wrong width.
func lastByID(r adapters.Rows) ([]bool, int, error) {
	idCol := -1
	for i, name := range r.Columns {
		if strings.EqualFold(name, "id") {
			idCol = i
		}
	}
	last := make(map[string]int, len(r.Values))
	for i, row := range r.Values {
		if len(row) != len(r.Columns) {
			return nil, 0, fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(r.Columns))
		}
		id, ok := row[idCol].(string)
		if !ok || id == "" {
			return nil, 0, fmt.Errorf("row %d has no id", i)
		}
		last[id] = i
	}
	keep := make([]bool, len(r.Values))
	for _, i := range last {
		keep[i] = true
	}
	return keep, len(last), nil
}

// appendRows appends the kept rows of r to the staging table with the
// DuckDB appender on the driver connection dc.
func appendRows(ctx context.Context, dc any, stage string, r adapters.Rows, types []adapters.Type, keep []bool) error {
	conn, ok := dc.(driver.Conn)
	if !ok {
		return fmt.Errorf("unexpected driver connection %T", dc)
	}
	a, err := duckdb.NewAppender(conn, "temp", "main", stage)
	if err != nil {
		return err
	}
	vals := make([]driver.Value, len(r.Columns))
	for i, row := range r.Values {
		if !keep[i] {
			continue
		}
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return errors.Join(err, a.Close())
			}
		}
		for j, v := range row {
			if vals[j], err = convert(v, types[j]); err != nil {
				return errors.Join(fmt.Errorf("row %d, column %s: %w", i, r.Columns[j], err), a.Close())
			}
		}
		if err := a.AppendRow(vals...); err != nil {
			return errors.Join(fmt.Errorf("row %d: %w", i, err), a.Close())
		}
	}
	return a.CloseWithCancel(ctx)
}

// convert checks that v fits a column of type t and returns it as the
// appender takes it. Errors name the value's Go type, never the value.
func convert(v any, t adapters.Type) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case adapters.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case adapters.Int:
		if n, ok := asInt(v); ok {
			return n, nil
		}
	case adapters.Float:
		switch f := v.(type) {
		case float64:
			return f, nil
		case float32:
			return float64(f), nil
		}
		if n, ok := asInt(v); ok {
			return float64(n), nil
		}
	case adapters.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case adapters.Timestamp:
		if ts, ok := v.(time.Time); ok {
			return ts, nil
		}
	default:
		// A column type the adapter does not create: let DuckDB convert.
		return v, nil
	}
	return nil, fmt.Errorf("a %T value does not fit a %s column", v, t)
}

// asInt returns v as an int64 if it is a Go integer that fits.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	}
	return 0, false
}
