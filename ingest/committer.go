package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/profilesync/profilesync/store"
)

// errNotRunning is returned by submit before Start and after Close.
var errNotRunning = errors.New("ingest: committer not running")

// committer implements group commit: one goroutine gathers the events of
// concurrent requests and appends them to the inbox in one call, then tells
// each request how its own events fared. A request's events always go into
// one Append call together.
type committer struct {
	inbox         Inbox
	dedupeWindow  time.Duration
	maxEvents     int
	linger        time.Duration
	appendTimeout time.Duration
	logger        *slog.Logger
	stats         *counters

	in   chan *commitRequest
	done chan struct{} // closed when run returns

	mu    sync.RWMutex // held for reading while sending on in
	state int
}

// States of a committer.
const (
	idle = iota
	running
	closed
)

// commitRequest is one request's events waiting to be appended.
type commitRequest struct {
	ctx    context.Context
	events []store.InboxEvent
	result chan commitResult // buffered: the committer never blocks on it
}

// commitResult is the outcome of a commitRequest: per event, new (true) or
// a duplicate (false); or the error that kept all of them from being stored.
type commitResult struct {
	accepted []bool
	err      error
}

func newCommitter(inbox Inbox, cfg Config, logger *slog.Logger, stats *counters) *committer {
	return &committer{
		inbox:         inbox,
		dedupeWindow:  cfg.DedupeWindow,
		maxEvents:     cfg.FlushEvents,
		linger:        cfg.FlushLinger,
		appendTimeout: cfg.AppendTimeout,
		logger:        logger,
		stats:         stats,
		in:            make(chan *commitRequest, 256),
		done:          make(chan struct{}),
	}
}

func (c *committer) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == idle {
		c.state = running
		go c.run()
	}
}

// close stops taking requests and waits until those queued are appended.
func (c *committer) close(ctx context.Context) error {
	c.mu.Lock()
	switch c.state {
	case idle:
		close(c.done)
	case running:
		close(c.in)
	}
	c.state = closed
	c.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// submit queues events and waits until they are appended. If ctx ends first
// it returns ctx.Err(); the events may or may not have been stored.
func (c *committer) submit(ctx context.Context, events []store.InboxEvent) ([]bool, error) {
	req := &commitRequest{ctx: ctx, events: events, result: make(chan commitResult, 1)}
	c.mu.RLock()
	if c.state != running {
		c.mu.RUnlock()
		return nil, errNotRunning
	}
	select {
	case c.in <- req:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return nil, ctx.Err()
	}
	select {
	case res := <-req.result:
		return res.accepted, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run gathers requests into flushes until in is closed and drained.
func (c *committer) run() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var next *commitRequest // taken from in, but kept for the next flush
	for {
		if next == nil {
			var ok bool
			if next, ok = <-c.in; !ok {
				return
			}
		}
		batch, n := []*commitRequest{next}, len(next.events)
		next = nil
		if c.linger > 0 {
			timer.Reset(c.linger)
		}
	gather:
		for n < c.maxEvents {
			var r *commitRequest
			var ok bool
			if c.linger > 0 {
				select {
				case r, ok = <-c.in:
				case <-timer.C:
					break gather
				}
			} else {
				select {
				case r, ok = <-c.in:
				default:
					break gather
				}
			}
			if !ok {
				break gather
			}
			if n+len(r.events) > c.maxEvents {
				next = r
				break gather
			}
			batch = append(batch, r)
			n += len(r.events)
		}
		timer.Stop()
		c.flush(batch)
	}
}

// flush appends the events of a batch of requests in one call and answers
// each request. Requests whose context has ended are left out.
func (c *committer) flush(batch []*commitRequest) {
	live := batch[:0]
	var events []store.InboxEvent
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.result <- commitResult{err: err}
			continue
		}
		live = append(live, r)
		events = append(events, r.events...)
	}
	if len(events) == 0 {
		return
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.appendTimeout)
	accepted, err := c.inbox.Append(ctx, events, c.dedupeWindow)
	cancel()
	if err == nil && len(accepted) != len(events) {
		err = fmt.Errorf("inbox answered %d results for %d events", len(accepted), len(events))
	}
	c.stats.flushes.Add(1)
	if err != nil {
		c.stats.appendErrors.Add(1)
		c.logger.Error("ingest append failed", "events", len(events), "requests", len(live), "error", err)
		for _, r := range live {
			r.result <- commitResult{err: err}
		}
		return
	}

	duplicates := 0
	for _, ok := range accepted {
		if !ok {
			duplicates++
		}
	}
	c.stats.events.Add(int64(len(events)))
	c.stats.duplicates.Add(int64(duplicates))
	attrs := []any{"events", len(events), "duplicates", duplicates, "requests", len(live), "duration", time.Since(start)}
	if duplicates > 0 {
		c.logger.Info("ingest appended events; duplicates dropped", attrs...)
	} else {
		c.logger.Debug("ingest appended events", attrs...)
	}
	off := 0
	for _, r := range live {
		end := off + len(r.events)
		r.result <- commitResult{accepted: accepted[off:end:end]}
		off = end
	}
}
