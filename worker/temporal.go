package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/profilesync/profilesync/activities"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// dialTemporal connects to the Temporal frontend, retrying while it starts.
func dialTemporal(ctx context.Context, cfg config, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.TemporalAddr,
		Namespace: cfg.Namespace,
		Logger:    tlog.NewStructuredLogger(logger.With("component", "temporal")),
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to Temporal at %s: %w", cfg.TemporalAddr, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// registerSearchAttributes makes sure the namespace knows the workflows'
// search attributes: an upsert of an unknown one fails the workflow task
// forever.
func registerSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes: %w", err)
	}
	missing := workflows.SearchAttributes()
	for name := range list.GetCustomAttributes() {
		delete(missing, name)
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("registering search attributes: %w", err)
	}
	return nil
}

// newWorker returns the Temporal worker running the workflows and activities.
func newWorker(c client.Client, cfg config, st store.Store, logger *slog.Logger) worker.Worker {
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		// Loads hold a warehouse connection each: keep them few.
		MaxConcurrentActivityExecutionSize: 8,
		WorkerStopTimeout:                  20 * time.Second,
	})
	workflows.Register(w)
	w.RegisterActivity(&activities.Activities{
		Store:     st,
		Temporal:  c,
		TaskQueue: cfg.TaskQueue,
		ChunkSize: cfg.ChunkSize,
		Logger:    logger.With("component", "activities"),
	})
	return w
}
