package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/store"
)

// The change-log rows: their own columns, then the trigger columns
// (adapters.IDGraphUpdates and its siblings).

func (l *loader) graphRows(ctx context.Context, c *chunkRows, rows []identity.GraphUpdate) error {
	t := c.table(adapters.IDGraphUpdates())
	for i := range rows {
		g := &rows[i]
		r := t.row()
		r.set("id", adapters.String, g.ID)
		r.set("seq", adapters.Int, g.Seq)
		r.set("segment_id", adapters.String, g.SegmentID)
		r.set("canonical_segment_id", adapters.String, g.CanonicalSegmentID)
		if err := l.setTrigger(ctx, r, &g.Trigger, c); err != nil {
			return err
		}
		r.done()
	}
	return nil
}

func (l *loader) mappingRows(ctx context.Context, c *chunkRows, rows []identity.MappingUpdate) error {
	t := c.table(adapters.ExternalIDMappingUpdates())
	for i := range rows {
		m := &rows[i]
		r := t.row()
		r.set("id", adapters.String, m.ID)
		r.set("seq", adapters.Int, m.Seq)
		r.set("segment_id", adapters.String, m.SegmentID)
		hash := m.Hash
		if hash == "" {
			hash = identity.ExternalIDHash(m.Type, m.Value)
		}
		r.set("external_id_hash", adapters.String, hash)
		r.set("external_id_type", adapters.String, m.Type)
		r.set("external_id_value", adapters.String, m.Value)
		if err := l.setTrigger(ctx, r, &m.Trigger, c); err != nil {
			return err
		}
		r.done()
	}
	return nil
}

// traitsRows lands trait snapshots: the live traits of each snapshot
// flattened (columns.Flatten: address.city → address_city, arrays as JSON
// text), one column per flattened trait named by the trait Namer (reserved
// columns get a "_" prefix), typed by columns.Infer. A trait that loses its
// column to another trait of the snapshot (firstName and first_name) goes to
// the discards table; so does, in loader.fit, a value that does not fit its
// column's type.
func (l *loader) traitsRows(ctx context.Context, c *chunkRows, rows []identity.TraitsUpdate) error {
	t := c.table(adapters.ProfileTraitsUpdates())
	for i := range rows {
		u := &rows[i]
		r := t.row()
		r.set("id", adapters.String, u.ID)
		r.set("seq", adapters.Int, u.Seq)
		r.set("segment_id", adapters.String, u.SegmentID)
		if err := l.setTrigger(ctx, r, &u.Trigger, c); err != nil {
			return err
		}
		snapshot := u.Traits.Snapshot()
		if len(snapshot) == 0 {
			r.done()
			continue
		}
		used := map[string][]string{} // column → the trait path that took it
		for _, f := range columns.Flatten("", snapshot) {
			if f.Value == nil {
				continue // a null creates no column
			}
			col := l.traitColumns.Column(f.Path...)
			v, typ := landedValue(f.Value)
			winner := f.ShadowedBy
			if winner == nil {
				winner = used[col]
			}
			if winner != nil {
				c.discard(t.name, col, v, fmt.Sprintf("trait %s has the same column as trait %s",
					strings.Join(f.Path, "."), strings.Join(winner, ".")), u.ID, nullIfEmpty(u.ReceivedAt))
				c.counts.discarded++
				continue
			}
			used[col] = f.Path
			r.set(col, typ, v)
		}
		r.done()
	}
	return nil
}

// setTrigger sets the trigger columns of a change-log row.
func (l *loader) setTrigger(ctx context.Context, r *rowBuilder, tr *identity.Trigger, c *chunkRows) error {
	r.set("triggering_event_id", adapters.String, tr.EventID)
	r.set("triggering_event_type", adapters.String, tr.EventType)
	r.set("triggering_event_name", adapters.String, tr.EventName)
	r.set("triggering_event_source_id", adapters.String, tr.SourceID)
	if tr.SourceID != "" {
		src, err := l.source(ctx, tr.SourceID)
		if err != nil {
			return err
		}
		if src != nil {
			r.set("triggering_event_source_name", adapters.String, src.Name)
			r.set("triggering_event_source_slug", adapters.String, src.Slug)
		}
	}
	r.set("timestamp", adapters.Timestamp, tr.Timestamp)
	r.set("received_at", adapters.Timestamp, tr.ReceivedAt)
	r.set("uuid_ts", adapters.Timestamp, c.uuidTS)
	return nil
}

// source returns a source by id, cached for the activity; nil if it no
// longer exists.
func (l *loader) source(ctx context.Context, id string) (*store.Source, error) {
	if s, ok := l.sources[id]; ok {
		return s, nil
	}
	src, err := l.a.Store.GetSource(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		l.sources[id] = nil
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading source %s: %w", id, err)
	}
	l.sources[id] = &src
	return &src, nil
}
