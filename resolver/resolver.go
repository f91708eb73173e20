// Package resolver runs identity resolution for the spaces of a store.
//
// A Resolver is the single writer of one space: it keeps the space's identity
// index in memory, reads the inbox in position order, resolves micro-batches
// of events and commits each batch's change rows, event stamps and new inbox
// position in one transaction. After a crash, or a commit that fails, it
// rebuilds the index from the committed change logs and continues from the
// committed position, so nothing accepted is lost and nothing is applied
// twice.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/store"
)

// Store is what a resolver needs from the store.
type Store interface {
	GetSpace(ctx context.Context, id string) (store.Space, error)
	ReadInbox(ctx context.Context, spaceID string, after int64, limit int) ([]store.InboxEvent, error)
	ResolverPosition(ctx context.Context, spaceID string) (store.Position, error)
	CommitBatch(ctx context.Context, b *store.Batch) error
	ScanIdentity(ctx context.Context, spaceID string, fn func(g *identity.GraphUpdate, m *identity.MappingUpdate) error) error
	LatestTraits(ctx context.Context, spaceID string, segmentIDs []string) (map[string]identity.TraitSet, error)
}

// Options tune a resolver. Zero values take the defaults.
type Options struct {
	// BatchSize is the most events resolved and committed at once
	// (default 2,000).
	BatchSize int
	// Poll is how long an idle resolver waits for new events when nobody
	// calls Notify (default 200 ms).
	Poll time.Duration
	// TraitCache is the most profiles whose traits are kept in memory
	// (default 200,000).
	TraitCache int
	Logger     *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.TraitCache <= 0 {
		o.TraitCache = 200_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Resolver resolves the events of one space.
type Resolver struct {
	store   Store
	spaceID string
	opts    Options
	log     *slog.Logger
	wake    chan struct{}

	// State rebuilt by load: nil engine means "load before resolving".
	engine *identity.Engine
	traits map[string]identity.TraitSet
	pos    store.Position
}

// New returns a resolver for a space. Call Run, or Step in tests.
func New(st Store, spaceID string, opts Options) *Resolver {
	opts = opts.withDefaults()
	return &Resolver{
		store:   st,
		spaceID: spaceID,
		opts:    opts,
		log:     opts.Logger.With("space", spaceID),
		wake:    make(chan struct{}, 1),
	}
}

// Notify wakes the resolver if it is waiting for events. It never blocks.
func (r *Resolver) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Position returns the last committed position. It is only meaningful
// between calls to Step, or after Run returned.
func (r *Resolver) Position() store.Position { return r.pos }

// Run resolves events until ctx is done. Transient store errors are logged
// and retried with backoff; the index is rebuilt after any failed commit.
func (r *Resolver) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		n, err := r.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
			r.log.Error("resolving", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return nil
			}
			continue
		case n > 0:
			backoff = 0
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(r.opts.Poll):
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Step resolves and commits at most one batch and returns how many events it
// covered.
func (r *Resolver) Step(ctx context.Context) (int, error) {
	if r.engine == nil {
		if err := r.load(ctx); err != nil {
			return 0, err
		}
	}
	events, err := r.store.ReadInbox(ctx, r.spaceID, r.pos.Pos, r.opts.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("reading inbox: %w", err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	b, err := r.resolve(ctx, events)
	if err != nil {
		r.reset()
		return 0, err
	}
	if err := r.store.CommitBatch(ctx, b); err != nil {
		// The index already holds this batch's changes: forget it and
		// rebuild from what is committed.
		r.reset()
		if errors.Is(err, store.ErrConflict) {
			return 0, fmt.Errorf("committing batch at position %d: another resolver moved the space: %w", b.FromPos, err)
		}
		return 0, fmt.Errorf("committing batch at position %d: %w", b.FromPos, err)
	}
	r.pos = store.Position{Pos: b.ToPos, LastSeq: max(r.pos.LastSeq, lastSeq(b))}
	if len(r.traits) > r.opts.TraitCache {
		clear(r.traits)
	}
	return len(events), nil
}

func lastSeq(b *store.Batch) int64 {
	var s int64
	for _, g := range b.Graph {
		s = max(s, g.Seq)
	}
	for _, m := range b.Mappings {
		s = max(s, m.Seq)
	}
	for _, t := range b.Traits {
		s = max(s, t.Seq)
	}
	return s
}

// reset drops the in-memory state so the next Step rebuilds it.
func (r *Resolver) reset() {
	r.engine = nil
	r.traits = nil
}

// load rebuilds the index from the committed change logs.
func (r *Resolver) load(ctx context.Context) error {
	start := time.Now()
	sp, err := r.store.GetSpace(ctx, r.spaceID)
	if err != nil {
		return fmt.Errorf("loading space: %w", err)
	}
	rules, err := identity.CompileRules(sp.Rules)
	if err != nil {
		return fmt.Errorf("compiling rules of space %s: %w", r.spaceID, err)
	}
	pos, err := r.store.ResolverPosition(ctx, r.spaceID)
	if err != nil {
		return fmt.Errorf("reading resolver position: %w", err)
	}
	engine := identity.NewEngine(rules)
	err = r.store.ScanIdentity(ctx, r.spaceID, func(g *identity.GraphUpdate, m *identity.MappingUpdate) error {
		return engine.Load(g, m)
	})
	if err != nil {
		return fmt.Errorf("rebuilding identity index: %w", err)
	}
	r.engine, r.traits, r.pos = engine, map[string]identity.TraitSet{}, pos
	st := engine.Stats()
	r.log.Info("identity index loaded", "position", pos.Pos, "profiles", st.Profiles,
		"identifiers", st.Identifiers, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// resolve runs identity resolution over events, in order, and returns the
// batch to commit.
func (r *Resolver) resolve(ctx context.Context, events []store.InboxEvent) (*store.Batch, error) {
	b := &store.Batch{
		SpaceID: r.spaceID,
		FromPos: r.pos.Pos,
		ToPos:   events[len(events)-1].Pos,
		Events:  make([]store.EventSegment, len(events)),
	}
	parsed := make([]identity.Event, 0, len(events))
	results := make([]identity.Resolution, 0, len(events))
	for i, in := range events {
		b.Events[i].Pos = in.Pos
		ev, err := identity.ParseEvent(in.Payload)
		if err != nil {
			// The ingest API validated it, so this is a bug or a corrupt
			// row: keep the event unresolved rather than stall the space.
			r.log.Error("unparsable inbox event left unresolved", "position", in.Pos, "err", err)
			continue
		}
		ev.Pos, ev.SourceID = in.Pos, in.SourceID
		res := r.engine.Resolve(ev)
		b.Events[i].SegmentID = res.SegmentID
		b.Graph = append(b.Graph, res.Graph...)
		b.Mappings = append(b.Mappings, res.Mappings...)
		parsed = append(parsed, ev)
		results = append(results, res)
	}
	if err := r.loadTraits(ctx, parsed, results); err != nil {
		return nil, err
	}
	b.Traits = identity.ApplyTraits(parsed, results, r.traits)
	return b, nil
}

// loadTraits makes sure r.traits holds every profile whose traits the batch
// reads or changes.
func (r *Resolver) loadTraits(ctx context.Context, events []identity.Event, results []identity.Resolution) error {
	need := map[string]bool{}
	add := func(id string) {
		if _, ok := r.traits[id]; !ok && id != "" {
			need[id] = true
		}
	}
	for i, res := range results {
		for _, m := range res.Merges {
			add(m.From)
			add(m.To)
		}
		if events[i].Type == "identify" && len(events[i].Traits) > 0 {
			add(res.SegmentID)
		}
	}
	if len(need) == 0 {
		return nil
	}
	ids := make([]string, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	found, err := r.store.LatestTraits(ctx, r.spaceID, ids)
	if err != nil {
		return fmt.Errorf("loading traits of %d profiles: %w", len(ids), err)
	}
	for _, id := range ids {
		set := found[id]
		if set == nil {
			set = identity.TraitSet{}
		}
		r.traits[id] = set
	}
	return nil
}
