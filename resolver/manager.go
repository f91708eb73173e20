package resolver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/profilesync/profilesync/store"
)

// ManagerStore is what a Manager needs from the store.
type ManagerStore interface {
	Store
	ListSpaces(ctx context.Context) ([]store.Space, error)
}

// Manager runs one Resolver per space and starts resolvers for spaces created
// while it runs.
type Manager struct {
	store ManagerStore
	opts  Options
	// Refresh is how often the list of spaces is reread (default 5 s).
	Refresh time.Duration

	mu        sync.Mutex
	resolvers map[string]*Resolver
}

// NewManager returns a manager; call Run.
func NewManager(st ManagerStore, opts Options) *Manager {
	return &Manager{store: st, opts: opts.withDefaults(), Refresh: 5 * time.Second, resolvers: map[string]*Resolver{}}
}

// Notify wakes the resolver of a space, starting none.
func (m *Manager) Notify(spaceID string) {
	m.mu.Lock()
	r := m.resolvers[spaceID]
	m.mu.Unlock()
	if r != nil {
		r.Notify()
	}
}

// Run runs resolvers until ctx is done and they have stopped.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(m.Refresh)
	defer t.Stop()
	for {
		if err := m.startNew(ctx, &wg); err != nil {
			m.opts.Logger.Error("listing spaces", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (m *Manager) startNew(ctx context.Context, wg *sync.WaitGroup) error {
	spaces, err := m.store.ListSpaces(ctx)
	if err != nil {
		return fmt.Errorf("listing spaces: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sp := range spaces {
		if m.resolvers[sp.ID] != nil {
			continue
		}
		r := New(m.store, sp.ID, m.opts)
		m.resolvers[sp.ID] = r
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				m.opts.Logger.Error("resolver stopped", "space", sp.ID, "err", err)
			}
		})
	}
	return nil
}

// Positions returns the committed position of every running resolver's space
// as last seen by the store.
func (m *Manager) Positions(ctx context.Context) (map[string]store.Position, error) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.resolvers))
	for id := range m.resolvers {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	out := make(map[string]store.Position, len(ids))
	for _, id := range ids {
		p, err := m.store.ResolverPosition(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("reading position of space %s: %w", id, err)
		}
		out[id] = p
	}
	return out, nil
}
