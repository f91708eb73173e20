package activities

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/workflows"
)

// stepConnect is the first step of a connection test; a warehouse that
// cannot even be opened fails it.
const stepConnect = "connect"

// TestConnection runs the warehouse's connection test with the credentials
// in the store (see workflows.Activities).
func (a *Activities) TestConnection(ctx context.Context, in workflows.TestInput) (workflows.TestResult, error) {
	log := a.logger().With("activity", workflows.ActivityTestConnection, "warehouse_id", in.WarehouseID)
	w, err := a.openWarehouse(ctx, in.WarehouseID)
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeBadConfig {
			// Settings the adapter refuses fail the connect step: that is
			// what the user fixes.
			res := workflows.TestResult{
				Steps:      []workflows.Step{{Name: stepConnect, Error: stepConnect + ": " + appErr.Message()}},
				FailedStep: stepConnect,
				Error:      stepConnect + ": " + appErr.Message(),
			}
			log.Warn("connection test failed", "failed_step", stepConnect)
			return res, temporal.NewNonRetryableApplicationError(res.Error, workflows.ErrTypeConnectionTestFailed, nil, res)
		}
		return workflows.TestResult{}, err
	}
	defer w.close(a)

	start := time.Now()
	steps, testErr := w.Test(ctx)
	if testErr != nil && ctx.Err() != nil {
		return workflows.TestResult{}, ctx.Err()
	}
	res := workflows.TestResult{OK: testErr == nil, Steps: convertSteps(steps, w.secret)}
	if testErr == nil {
		log.Info("connection test passed", "steps", len(steps), "duration_ms", time.Since(start).Milliseconds())
		return res, nil
	}
	res.Error = scrub(testErr.Error(), w.secret)
	for _, s := range res.Steps {
		if !s.OK {
			res.FailedStep = s.Name
			break
		}
	}
	if res.FailedStep == "" { // an adapter that failed without a failed step
		res.FailedStep = stepConnect
		res.Steps = append(res.Steps, workflows.Step{Name: stepConnect, Error: res.Error})
	}
	if !strings.HasPrefix(res.Error, res.FailedStep+": ") { // the message names the step
		res.Error = res.FailedStep + ": " + res.Error
	}
	log.Warn("connection test failed", "failed_step", res.FailedStep, "steps", len(steps),
		slog.Bool("auth", isAuthError(testErr)))
	return res, temporal.NewNonRetryableApplicationError(res.Error, workflows.ErrTypeConnectionTestFailed, nil, res)
}

// convertSteps converts the adapter's steps, scrubbing their errors.
func convertSteps(steps []adapters.Step, secret string) []workflows.Step {
	out := make([]workflows.Step, 0, len(steps))
	for _, s := range steps {
		out = append(out, workflows.Step{
			Name:       s.Name,
			OK:         s.OK,
			Error:      scrub(s.Error, secret),
			DurationMS: s.Duration.Milliseconds(),
		})
	}
	return out
}
