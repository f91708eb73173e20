package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// connectTimeout bounds the connect step of Test.
const connectTimeout = 10 * time.Second

// stepError is the error of a failed connection test step: the step's name
// and the server's message.
type stepError struct {
	step string
	msg  string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.msg }
func (e *stepError) Unwrap() error { return e.err }

// Test runs the connection test: connect, create_schema (EnsureSchema),
// create_table (a scratch table), write_read (a row written and read back)
// and clean_up (the scratch table dropped). It stops at the first failure,
// dropping the scratch table if it got that far.
func (w *Warehouse) Test(ctx context.Context) (steps []adapters.Step, err error) {
	defer w.redactErr(&err)
	scratch := w.QualifiedName("_profilesync_test_" + randomHex(6))
	created := false
	defer func() {
		if err != nil && created {
			// Best effort: the failed step is the one to report.
			_, _ = w.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+scratch)
		}
	}()
	run := func(name string, f func(context.Context) error) error {
		start := time.Now()
		ferr := f(ctx)
		s := adapters.Step{Name: name, OK: ferr == nil, Duration: time.Since(start)}
		if ferr != nil {
			ferr = w.redact(&stepError{step: name, msg: message(ferr), err: ferr})
			s.Error = ferr.Error()
		}
		steps = append(steps, s)
		return ferr
	}
	want := "profilesync ✓ " + randomHex(4)
	for _, step := range []struct {
		name string
		f    func(context.Context) error
	}{
		{"connect", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, connectTimeout)
			defer cancel()
			return w.db.PingContext(ctx)
		}},
		{"create_schema", w.EnsureSchema},
		{"create_table", func(ctx context.Context) error {
			_, err := w.db.ExecContext(ctx, "CREATE TABLE "+scratch+" (id text PRIMARY KEY, value text, at timestamptz)")
			created = err == nil
			return err
		}},
		{"write_read", func(ctx context.Context) error {
			at := time.Now().UTC().Truncate(time.Microsecond)
			if _, err := w.db.ExecContext(ctx, "INSERT INTO "+scratch+" (id, value, at) VALUES ($1, $2, $3)", "test", want, at); err != nil {
				return err
			}
			var got string
			var gotAt time.Time
			if err := w.db.QueryRowContext(ctx, "SELECT value, at FROM "+scratch+" WHERE id = $1", "test").Scan(&got, &gotAt); err != nil {
				return err
			}
			if got != want || !gotAt.Equal(at) {
				return fmt.Errorf("read back %q at %v, wrote %q at %v", got, gotAt, want, at)
			}
			return nil
		}},
		{"clean_up", func(ctx context.Context) error {
			_, err := w.db.ExecContext(ctx, "DROP TABLE "+scratch)
			return err
		}},
	} {
		if err := run(step.name, step.f); err != nil {
			w.log.WarnContext(ctx, "connection test failed", "step", step.name, "error", err)
			return steps, err
		}
	}
	return steps, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
