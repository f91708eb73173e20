package main

import (
	"context"
	"log/slog"
	"time"
)

// pruner is what the janitor needs from the store.
type pruner interface {
	PruneDedupe(ctx context.Context, cutoff time.Time) error
}

// runJanitor forgets message ids older than the dedupe window, every
// interval, until ctx is done: past the window a message id counts as new
// anyway, and the dedupe table stays the size of one window.
func runJanitor(ctx context.Context, st pruner, window, interval time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := st.PruneDedupe(ctx, now().Add(-window)); err != nil && ctx.Err() == nil {
			log.Warn("pruning the dedupe table", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
