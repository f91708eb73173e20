package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/adapters/duckdb"
	"github.com/profilesync/profilesync/adapters/postgres"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// OpenAdapter opens a warehouse with the adapter of cfg.Type. An unknown type
// is a non-retryable BadConfig error.
func OpenAdapter(ctx context.Context, cfg adapters.Config) (adapters.Warehouse, error) {
	switch cfg.Type {
	case postgres.Type:
		return postgres.Open(ctx, cfg)
	case duckdb.Type:
		return duckdb.Open(ctx, cfg)
	}
	return nil, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("unknown warehouse type %q (supported: %s, %s)", cfg.Type, postgres.Type, duckdb.Type),
		workflows.ErrTypeBadConfig, nil)
}

// secretless are the warehouse types that have no credentials.
var secretless = map[string]bool{duckdb.Type: true}

// openedWarehouse is a warehouse opened for one activity.
type openedWarehouse struct {
	adapters.Warehouse
	record store.Warehouse
	secret string // only to scrub it from errors
}

// warehouseRecord reads a warehouse record, mapping a missing one to a
// non-retryable NotFound error.
func (a *Activities) warehouseRecord(ctx context.Context, id string) (store.Warehouse, error) {
	if id == "" {
		return store.Warehouse{}, temporal.NewNonRetryableApplicationError("warehouse id is required", workflows.ErrTypeBadConfig, nil)
	}
	w, err := a.Store.GetWarehouse(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Warehouse{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("warehouse %s does not exist", id), workflows.ErrTypeNotFound, nil)
	}
	if err != nil {
		return store.Warehouse{}, fmt.Errorf("reading warehouse %s: %w", id, err)
	}
	return w, nil
}

// secret reads and decrypts a warehouse's credentials: "" when it has none.
func (a *Activities) secret(ctx context.Context, w store.Warehouse) (string, error) {
	b, err := a.Store.Credentials(ctx, w.ID)
	switch {
	case err == nil:
		return string(b), nil
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case secretless[w.Type]:
		// A DuckDB file needs no secret: a worker without a master key is fine.
		return "", nil
	case errors.Is(err, store.ErrNoMasterKey), errors.Is(err, store.ErrWrongKey):
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("reading the credentials of warehouse %s: %v", w.ID, err), workflows.ErrTypeBadConfig, nil)
	}
	return "", fmt.Errorf("reading the credentials of warehouse %s: %w", w.ID, err)
}

// openWarehouse reads a warehouse's record and credentials and opens it. The
// caller closes it. Open failures are BadConfig: the adapters' Open only
// checks settings.
func (a *Activities) openWarehouse(ctx context.Context, id string) (*openedWarehouse, error) {
	rec, err := a.warehouseRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	secret, err := a.secret(ctx, rec)
	if err != nil {
		return nil, err
	}
	cfg := adapters.Config{Type: rec.Type, Settings: maps.Clone(rec.Config), Secret: secret}
	if cfg.Settings == nil {
		cfg.Settings = map[string]string{}
	}
	w, err := a.open()(ctx, cfg)
	if err != nil {
		if isApplicationError(err) {
			return nil, scrubError(err, secret)
		}
		return nil, temporal.NewNonRetryableApplicationError(
			"opening warehouse "+id+": "+scrub(err.Error(), secret), workflows.ErrTypeBadConfig, nil)
	}
	return &openedWarehouse{Warehouse: w, record: rec, secret: secret}, nil
}

// close closes the warehouse, logging a failure.
func (w *openedWarehouse) close(a *Activities) {
	if err := w.Close(); err != nil {
		a.logger().Warn("closing warehouse failed", "warehouse_id", w.record.ID)
	}
}

// fail turns an error of a warehouse operation into the activity's error:
// credentials scrubbed, an authentication failure made a non-retryable
// AuthFailed error, context errors passed through so that cancellation is
// reported as such.
func (w *openedWarehouse) fail(ctx context.Context, what string, err error, details ...any) error {
	return activityError(ctx, what, err, w.secret, details...)
}

// activityError builds the error an activity returns for err (see fail).
func activityError(ctx context.Context, what string, err error, secret string, details ...any) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// Canceled or timed out: whatever the adapter made of it, say so.
		return ctx.Err()
	}
	msg := err.Error()
	if what != "" {
		msg = what + ": " + msg
	}
	msg = scrub(msg, secret)
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr):
		return temporal.NewApplicationErrorWithOptions(msg, appErr.Type(), temporal.ApplicationErrorOptions{
			NonRetryable: appErr.NonRetryable(), Details: details,
		})
	case isAuthError(err):
		return temporal.NewApplicationErrorWithOptions(msg, workflows.ErrTypeAuthFailed, temporal.ApplicationErrorOptions{
			NonRetryable: true, Details: details,
		})
	}
	// A plain error: retried. The cause is left out so that no unscrubbed
	// text travels with it.
	return temporal.NewApplicationErrorWithOptions(msg, errTypeWarehouse, temporal.ApplicationErrorOptions{Details: details})
}

// errTypeWarehouse is the type of retryable warehouse and store errors.
const errTypeWarehouse = "WarehouseError"

func isApplicationError(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr)
}

// isAuthError reports whether err is a warehouse's refusal of the
// credentials: SQLSTATE class 28 (invalid authorization specification), as
// PostgreSQL, Redshift and Snowflake's drivers report it.
func isAuthError(err error) bool {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return strings.HasPrefix(s.SQLState(), "28")
	}
	return false
}

// minSecretLen is the shortest secret scrub searches for: shorter ones would
// garble messages and hide nothing (the adapters use the same bound).
const minSecretLen = 4

// scrub removes every occurrence of the secret from s, also in its URL
// escaped forms (a secret inside a DSN).
func scrub(s, secret string) string {
	if len(secret) < minSecretLen {
		return s
	}
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.UserPassword("", secret).String()[1:]} {
		if len(form) >= minSecretLen {
			s = strings.ReplaceAll(s, form, "***")
		}
	}
	return s
}

// scrubError returns err unchanged when its message does not hold the
// secret, and otherwise an error of the same kind with the secret removed.
func scrubError(err error, secret string) error {
	if err == nil || len(secret) < minSecretLen || scrub(err.Error(), secret) == err.Error() {
		return err
	}
	return activityError(context.Background(), "", err, secret)
}
