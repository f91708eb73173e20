package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/profilesync/profilesync/adapters"
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

// traitsRows lands trait snapshots: one column per live trait, named by the
// trait namer. A trait whose name gives no usable column, or whose column
// another trait of the snapshot already took, goes to the discards table.
//
// Until the columns package lands, every trait value is landed as text
// (JSON for anything but a string) in a string column; coercion into an
// existing column of another type happens in loader.prepare.
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
		names := make([]string, 0, len(u.Traits))
		for name, tr := range u.Traits {
			if !tr.Deleted && tr.Value != nil {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		var used map[string]string // column → trait, for this row
		for _, name := range names {
			v := traitValue(u.Traits[name].Value)
			col := l.namer.column(name)
			if col == "" {
				c.discard(t.name, name, v, "the trait name has no characters a column name can use", u.ID, nullIfEmpty(u.ReceivedAt))
				continue
			}
			if other, taken := used[col]; taken {
				c.discard(t.name, name, v, fmt.Sprintf("the trait's column %s is taken by trait %q", col, other), u.ID, nullIfEmpty(u.ReceivedAt))
				continue
			}
			if used == nil {
				used = map[string]string{}
			}
			used[col] = name
			r.set(col, adapters.String, v)
		}
		r.done()
	}
	return nil
}

// traitValue is the landed value of a trait: a string as is, anything else
// as its JSON text.
func traitValue(v any) any {
	if s, ok := v.(string); ok {
		return s
	}
	return stringValue(v)
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
