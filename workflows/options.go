package workflows

import (
	"errors"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity timeouts and retries.
const (
	// LoadStartToCloseTimeout bounds one attempt of a load or
	// materialization: hours, since a first sync carries full history.
	LoadStartToCloseTimeout = 6 * time.Hour
	// LoadHeartbeatTimeout is how long a load may go without heartbeating
	// before the attempt is considered lost and retried. Activities heartbeat
	// at least every 30 s (the SDK throttles to 0.8 × this).
	LoadHeartbeatTimeout = time.Minute
	// LoadMaximumAttempts bounds the attempts of a load before its table is
	// reported failed.
	LoadMaximumAttempts = 5
)

// controlOptions are for the short control-plane activities: store writes,
// schedule changes, reports.
func controlOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        8,
			NonRetryableErrorTypes: nonRetryableErrorTypes,
		},
	}
}

// testOptions are for TestConnection: a short retry, since a failed step is a
// non-retryable answer and only infrastructure errors are retried.
func testOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        5 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: nonRetryableErrorTypes,
		},
	}
}

// prepareOptions are for PlanSync, PrepareSchema and EventRange: warehouse
// DDL and store reads, minutes at most.
func prepareOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        5 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        2 * time.Minute,
			MaximumAttempts:        5,
			NonRetryableErrorTypes: nonRetryableErrorTypes,
		},
	}
}

// loadOptions are for the loads and Materialize: long attempts that
// heartbeat, retried with backoff a bounded number of times.
func loadOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: LoadStartToCloseTimeout,
		HeartbeatTimeout:    LoadHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        10 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			MaximumAttempts:        LoadMaximumAttempts,
			NonRetryableErrorTypes: nonRetryableErrorTypes,
		},
	}
}

// errMessage is the message of the innermost meaningful error of an activity
// or child failure, without the SDK's wrapping, at most MaxErrorLength bytes.
func errMessage(err error) string {
	if err == nil {
		return ""
	}
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	var canceledErr *temporal.CanceledError
	var msg string
	switch {
	case errors.As(err, &appErr):
		msg = appErr.Message()
	case errors.As(err, &timeoutErr):
		msg = "timed out (" + timeoutErr.TimeoutType().String() + ")"
	case errors.As(err, &canceledErr):
		msg = "canceled"
	default:
		msg = err.Error()
	}
	return truncate(msg, MaxErrorLength)
}

// truncate shortens s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// errorDetails decodes the first detail of an activity's ApplicationError
// into v, and reports whether there was one.
func errorDetails(err error, v any) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.HasDetails() {
		return false
	}
	return appErr.Details(v) == nil
}
