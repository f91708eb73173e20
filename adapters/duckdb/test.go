package duckdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// The steps of a connection test, in order.
const (
	StepConnect      = "connect"
	StepCreateSchema = "create_schema"
	StepCreateTable  = "create_table"
	StepWriteRead    = "write_read"
	StepCleanUp      = "clean_up"
)

// testTablePrefix starts the name of the scratch table of a connection test.
const testTablePrefix = "_profilesync_test_"

// Test opens the database file, creates the schema, creates a scratch
// table, writes a row to it and reads it back, and drops the table. It stops
// at the first failing step and returns the steps it ran; the error names
// the failed step. After a failure past create_table it still drops the
// scratch table, without reporting that as a step.
func (w *Warehouse) Test(ctx context.Context) ([]adapters.Step, error) {
	var steps []adapters.Step
	run := func(name string, fn func() error) error {
		start := time.Now()
		err := fn()
		s := adapters.Step{Name: name, OK: err == nil, Duration: time.Since(start)}
		if err != nil {
			err = fmt.Errorf("%s: connection test: step %s: %w", errPrefix, name, err)
			s.Error = err.Error()
		}
		steps = append(steps, s)
		return err
	}

	var (
		c    *sql.Conn
		done = func() {}
	)
	err := run(StepConnect, func() error {
		var err error
		if c, done, err = w.conn(ctx); err != nil {
			done = func() {}
			return err
		}
		return c.PingContext(ctx)
	})
	defer done()
	if err != nil {
		return steps, err
	}

	if err := run(StepCreateSchema, func() error {
		return inTx(ctx, c, func() error { return w.ensureSchema(ctx, c) })
	}); err != nil {
		return steps, err
	}

	name := testTablePrefix + randomHex(6)
	table := w.table(name)
	created := false
	defer func() {
		if created {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table)
		}
	}()
	if err := run(StepCreateTable, func() error {
		_, err := c.ExecContext(ctx, "CREATE TABLE "+table+" (id VARCHAR PRIMARY KEY, n BIGINT, ts TIMESTAMPTZ)")
		created = err == nil
		return err
	}); err != nil {
		return steps, err
	}

	if err := run(StepWriteRead, func() error {
		at := time.Now().UTC().Truncate(time.Microsecond)
		if _, err := c.ExecContext(ctx, "INSERT INTO "+table+" VALUES (?, ?, ?)", "probe", int64(42), at); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		var n int64
		var got time.Time
		if err := c.QueryRowContext(ctx, "SELECT n, ts FROM "+table+" WHERE id = ?", "probe").Scan(&n, &got); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n != 42 || !got.Equal(at) {
			return fmt.Errorf("read back (%d, %s), wrote (42, %s)", n, got, at)
		}
		return nil
	}); err != nil {
		return steps, err
	}

	if err := run(StepCleanUp, func() error {
		_, err := c.ExecContext(ctx, "DROP TABLE "+table)
		created = err != nil
		return err
	}); err != nil {
		return steps, err
	}
	return steps, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
