package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/profilesync/profilesync/adapters"
)

// Watermark returns a stream's watermark, 0 if it has none.
func (w *Warehouse) Watermark(ctx context.Context, stream string) (_ int64, err error) {
	defer w.redactErr(&err)
	var wm int64
	err = w.db.QueryRowContext(ctx, "SELECT watermark FROM "+w.QualifiedName(watermarksTable)+" WHERE stream = $1", stream).Scan(&wm)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading watermark of %s: %w", stream, err)
	}
	return wm, nil
}

// Load loads a chunk in one transaction. It locks the stream's watermark
// row; skips the chunk if the watermark is at or past c.Upto; refuses it if
// it starts past the watermark (adapters.ErrWatermarkGap). Otherwise, for
// each run of rows (the last row of an id wins), it copies the rows straight
// into the target when none of their ids is there yet, the common case, or
// else copies them into a temporary staging table and upserts that into the
// target by id (a row replaces the target row as a whole). Then it moves
// the watermark to c.Upto and commits. If anything fails, or the connection
// is lost, nothing is applied.
func (w *Warehouse) Load(ctx context.Context, c adapters.Chunk) (_ adapters.LoadResult, err error) {
	defer w.redactErr(&err)
	start := time.Now()
	none := adapters.LoadResult{Rows: map[string]int64{}}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return none, fmt.Errorf("loading %s: connecting: %w", c.Stream, err)
	}
	defer conn.Close()
	// The transaction is not bound to ctx: database/sql would roll it back
	// from another goroutine on cancellation, possibly in the middle of a
	// COPY. Every statement runs with ctx instead, and a failure rolls back
	// here, once the COPY is closed.
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return none, fmt.Errorf("loading %s: beginning transaction: %w", c.Stream, err)
	}
	rows, skipped, err := w.load(ctx, tx, c)
	if err != nil {
		_ = tx.Rollback()
		return none, err
	}
	if skipped {
		w.log.DebugContext(ctx, "load skipped", "stream", c.Stream, "upto", c.Upto)
		none.Skipped = true
		return none, tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return none, fmt.Errorf("loading %s: committing: %w", c.Stream, err)
	}
	w.log.DebugContext(ctx, "loaded chunk", "stream", c.Stream, "after", c.After, "upto", c.Upto, "rows", rows, "duration", time.Since(start))
	return adapters.LoadResult{Rows: rows}, nil
}

// load does the work of Load in tx. It reports skipped if the watermark is
// at or past c.Upto.
func (w *Warehouse) load(ctx context.Context, tx *sql.Tx, c adapters.Chunk) (rows map[string]int64, skipped bool, err error) {
	wm, err := w.lockWatermark(ctx, tx, c.Stream)
	if err != nil {
		return nil, false, fmt.Errorf("loading %s: %w", c.Stream, err)
	}
	if wm >= c.Upto {
		return nil, true, nil
	}
	if c.After > wm {
		return nil, false, fmt.Errorf("loading %s (%d, %d]: watermark is %d: %w", c.Stream, c.After, c.Upto, wm, adapters.ErrWatermarkGap)
	}
	rows = map[string]int64{}
	for i, r := range c.Tables {
		n, err := w.loadRows(ctx, tx, i, r)
		if err != nil {
			return nil, false, err
		}
		rows[r.Table] += n
	}
	if err := setWatermark(ctx, tx, w.QualifiedName(watermarksTable), c.Stream, c.Upto); err != nil {
		return nil, false, fmt.Errorf("loading %s: %w", c.Stream, err)
	}
	return rows, false, nil
}

// lockWatermark returns a stream's watermark, locking its row until the
// transaction ends; the row is created if missing.
func (w *Warehouse) lockWatermark(ctx context.Context, tx *sql.Tx, stream string) (int64, error) {
	table := w.QualifiedName(watermarksTable)
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (stream, watermark) VALUES ($1, 0) ON CONFLICT (stream) DO NOTHING", stream); err != nil {
		return 0, fmt.Errorf("creating watermark of %s: %w", stream, err)
	}
	var wm int64
	if err := tx.QueryRowContext(ctx, "SELECT watermark FROM "+table+" WHERE stream = $1 FOR UPDATE", stream).Scan(&wm); err != nil {
		return 0, fmt.Errorf("locking watermark of %s: %w", stream, err)
	}
	return wm, nil
}

func setWatermark(ctx context.Context, tx *sql.Tx, table, stream string, wm int64) error {
	if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET watermark = $2, updated_at = now() WHERE stream = $1", stream, wm); err != nil {
		return fmt.Errorf("moving watermark of %s to %d: %w", stream, wm, err)
	}
	return nil
}

// loadRows loads one run of rows into its target table, the i-th of the
// chunk. It returns the number of rows merged.
func (w *Warehouse) loadRows(ctx context.Context, tx *sql.Tx, i int, r adapters.Rows) (int64, error) {
	target, err := w.orderedColumns(ctx, tx, r.Table)
	if err != nil {
		return 0, fmt.Errorf("loading %s: %w", r.Table, err)
	}
	if len(target) == 0 {
		return 0, fmt.Errorf("loading %s: no such table", r.Table)
	}
	values, err := checkRows(r, target)
	if err != nil {
		return 0, fmt.Errorf("loading %s: %w", r.Table, err)
	}
	if len(values) == 0 {
		return 0, nil
	}
	// Most chunks hold only new ids: copy them straight into the target,
	// and fall back to the staging table if an id already exists.
	direct, err := w.copyDirect(ctx, tx, r.Table, r.Columns, values)
	if err != nil || direct {
		return int64(len(values)), err
	}
	stage := "_profilesync_stage_" + strconv.Itoa(i)
	if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE "+quoteIdent(stage)+" (LIKE "+w.QualifiedName(r.Table)+") ON COMMIT DROP"); err != nil {
		return 0, fmt.Errorf("loading %s: creating staging table: %w", r.Table, err)
	}
	if err := copyIn(ctx, tx, quoteIdent(stage), r.Columns, values); err != nil {
		return 0, fmt.Errorf("loading %s: copying %d rows: %w", r.Table, len(values), err)
	}
	res, err := tx.ExecContext(ctx, mergeSQL(w.QualifiedName(r.Table), quoteIdent(stage), r.Columns, target))
	if err != nil {
		return 0, fmt.Errorf("loading %s: merging %d rows: %w", r.Table, len(values), err)
	}
	return res.RowsAffected()
}

// copyDirect copies rows into the target table under a savepoint. It
// reports false, having rolled back to the savepoint, if an id already
// exists in the target.
func (w *Warehouse) copyDirect(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) (bool, error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT profilesync_copy"); err != nil {
		return false, fmt.Errorf("loading %s: %w", table, err)
	}
	err := copyIn(ctx, tx, w.QualifiedName(table), cols, rows)
	if pq.As(err, pqerror.UniqueViolation) != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT profilesync_copy"); err != nil {
			return false, fmt.Errorf("loading %s: %w", table, err)
		}
		w.log.DebugContext(ctx, "ids exist: merging through a staging table", "table", table)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("loading %s: copying %d rows: %w", table, len(rows), err)
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT profilesync_copy"); err != nil {
		return false, fmt.Errorf("loading %s: %w", table, err)
	}
	return true, nil
}

// checkRows checks that r names existing columns, id among them, and that
// every row has a value per column and a string id. It returns the rows with
// one row per id, the last one.
func checkRows(r adapters.Rows, target []string) ([][]any, error) {
	have := make(map[string]bool, len(target))
	for _, c := range target {
		have[c] = true
	}
	idAt := -1
	seen := make(map[string]bool, len(r.Columns))
	for i, c := range r.Columns {
		if !have[c] {
			return nil, fmt.Errorf("column %q does not exist", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("column %q named twice", c)
		}
		seen[c] = true
		if c == "id" {
			idAt = i
		}
	}
	if idAt < 0 {
		return nil, errors.New(`rows have no "id" column`)
	}
	last := make(map[string]int, len(r.Values))
	for i, row := range r.Values {
		if len(row) != len(r.Columns) {
			return nil, fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(r.Columns))
		}
		id, ok := row[idAt].(string)
		if !ok {
			return nil, fmt.Errorf("row %d: id is %T, want a string", i, row[idAt])
		}
		last[id] = i
	}
	if len(last) == len(r.Values) {
		return r.Values, nil
	}
	out := make([][]any, 0, len(last))
	for i, row := range r.Values {
		if last[row[idAt].(string)] == i {
			out = append(out, row)
		}
	}
	return out, nil
}

// mergeSQL upserts the staging table into the target by id. A row replaces
// the target row as a whole: target columns the rows do not name become
// NULL.
func mergeSQL(target, stage string, cols, targetCols []string) string {
	list := quoteList(cols)
	var b strings.Builder
	b.WriteString("INSERT INTO " + target + " (" + list + ")\nSELECT " + list + " FROM " + stage + "\nON CONFLICT (id) DO ")
	var sets []string
	for _, c := range targetCols {
		if c != "id" {
			sets = append(sets, quoteIdent(c)+" = EXCLUDED."+quoteIdent(c))
		}
	}
	if len(sets) == 0 {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET " + strings.Join(sets, ", "))
	}
	return b.String()
}

// copyIn streams rows into table with COPY FROM STDIN.
func copyIn(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) (err error) {
	stmt, err := tx.PrepareContext(ctx, "COPY "+table+" ("+quoteList(cols)+") FROM STDIN")
	if err != nil {
		return err
	}
	defer func() {
		// Closing ends the COPY; after an error the caller rolls back.
		if cerr := stmt.Close(); err == nil {
			err = cerr
		}
	}()
	for _, row := range rows {
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return err
		}
	}
	_, err = stmt.ExecContext(ctx) // flushes and reports the server's errors
	return err
}
