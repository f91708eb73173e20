package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/profilesync/profilesync/identity"
)

func (s *pgStore) ResolverPosition(ctx context.Context, spaceID string) (Position, error) {
	var p Position
	err := s.pool.QueryRow(ctx, "SELECT pos, last_seq FROM resolver_positions WHERE space_id = $1", spaceID).
		Scan(&p.Pos, &p.LastSeq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Position{}, fmt.Errorf("reading resolver position: %w", err)
	}
	return p, nil
}

// CommitBatch moves the position first: the row lock it takes makes commits
// of one space wait for each other, so each takes its seqs after the
// previous one committed and a space's seqs grow in commit order.
func (s *pgStore) CommitBatch(ctx context.Context, b *Batch) error {
	if err := b.validate(); err != nil {
		return fmt.Errorf("committing batch: %w", err)
	}
	var seqs batchSeqs
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := pgMovePosition(ctx, tx, b); err != nil {
			return err
		}
		if n := b.rowCount(); n > 0 {
			rows, _ := tx.Query(ctx, "SELECT nextval('change_seq') FROM generate_series(1, $1)", n)
			list, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return fmt.Errorf("allocating seqs: %w", err)
			}
			slices.Sort(list)
			seqs = b.assignSeqs(list)
			if err := pgCopyChanges(ctx, tx, b, seqs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "UPDATE resolver_positions SET last_seq = $2 WHERE space_id = $1", b.SpaceID, seqs.last); err != nil {
				return fmt.Errorf("recording last seq: %w", err)
			}
		}
		return pgStampEvents(ctx, tx, b.Events)
	})
	if err != nil {
		return fmt.Errorf("committing batch of space %q at position %d: %w", b.SpaceID, b.FromPos, err)
	}
	b.writeBack(seqs)
	return nil
}

// pgMovePosition moves a space's position from b.FromPos to b.ToPos, or
// returns ErrConflict. A space without a position starts at 0.
func pgMovePosition(ctx context.Context, tx pgx.Tx, b *Batch) error {
	tag, err := tx.Exec(ctx, "UPDATE resolver_positions SET pos = $3 WHERE space_id = $1 AND pos = $2",
		b.SpaceID, b.FromPos, b.ToPos)
	if err != nil {
		return fmt.Errorf("moving position: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if b.FromPos != 0 {
		return ErrConflict
	}
	tag, err = tx.Exec(ctx, `INSERT INTO resolver_positions (space_id, pos, last_seq) VALUES ($1, $2, 0)
		ON CONFLICT (space_id) DO NOTHING`, b.SpaceID, b.ToPos)
	if err != nil {
		return fmt.Errorf("moving position: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrConflict
	}
	return nil
}

// pgCopyChanges writes the change rows of b with COPY.
func pgCopyChanges(ctx context.Context, tx pgx.Tx, b *Batch, seqs batchSeqs) error {
	err := pgCopy(ctx, tx, "id_graph_updates", []string{"space_id", "seq", "id", "segment_id", "canonical_segment_id"},
		len(b.Graph), func(i int, row []any) error {
			g := &b.Graph[i]
			row[0], row[1], row[2], row[3], row[4] = b.SpaceID, seqs.graph[i], g.ID, g.SegmentID, g.CanonicalSegmentID
			putPgTrigger(row[5:], g.Trigger)
			return nil
		})
	if err != nil {
		return err
	}
	err = pgCopy(ctx, tx, "external_id_mapping_updates",
		[]string{"space_id", "seq", "id", "segment_id", "external_id_type", "external_id_value", "external_id_hash"},
		len(b.Mappings), func(i int, row []any) error {
			m := &b.Mappings[i]
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = b.SpaceID, seqs.mappings[i], m.ID, m.SegmentID, m.Type, m.Value, m.Hash
			putPgTrigger(row[7:], m.Trigger)
			return nil
		})
	if err != nil {
		return err
	}
	return pgCopy(ctx, tx, "profile_traits_updates", []string{"space_id", "seq", "id", "segment_id", "traits"},
		len(b.Traits), func(i int, row []any) error {
			t := &b.Traits[i]
			traits, err := marshalTraits(t.Traits)
			row[0], row[1], row[2], row[3], row[4] = b.SpaceID, seqs.traits[i], t.ID, t.SegmentID, traits
			putPgTrigger(row[5:], t.Trigger)
			return err
		})
}

// pgCopy copies n rows into a change-log table: cols, then the trigger
// columns, which fill sets for row i into a slice reused from row to row.
func pgCopy(ctx context.Context, tx pgx.Tx, table string, cols []string, n int, fill func(i int, row []any) error) error {
	if n == 0 {
		return nil
	}
	cols = append(cols, "event_pos", "event_id", "event_type", "event_name", "source_id", "timestamp", "received_at")
	src := &copyRows{n: n, row: make([]any, len(cols)), fill: fill}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
		return fmt.Errorf("writing %s: %w", table, err)
	}
	return nil
}

// putPgTrigger sets the seven trigger columns.
func putPgTrigger(row []any, t identity.Trigger) {
	row[0], row[1], row[2], row[3], row[4] = t.EventPos, t.EventID, t.EventType, t.EventName, t.SourceID
	row[5], row[6] = nullTime(t.Timestamp), nullTime(t.ReceivedAt)
}

// copyRows is a pgx.CopyFromSource that fills one slice per row; COPY
// encodes each row before asking for the next, so reusing it is safe.
type copyRows struct {
	n, next int
	row     []any
	fill    func(i int, row []any) error
}

func (c *copyRows) Next() bool { c.next++; return c.next <= c.n }

func (c *copyRows) Values() ([]any, error) { return c.row, c.fill(c.next-1, c.row) }

func (c *copyRows) Err() error { return nil }

// pgStampEvents records the profile of each resolved event.
func pgStampEvents(ctx context.Context, tx pgx.Tx, events []EventSegment) error {
	stamped := make([][]any, 0, len(events))
	for _, e := range events {
		if e.SegmentID != "" {
			stamped = append(stamped, []any{e.Pos, e.SegmentID})
		}
	}
	if len(stamped) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"event_segments"}, []string{"pos", "segment_id"}, pgx.CopyFromRows(stamped))
	if err != nil {
		return fmt.Errorf("stamping events: %w", err)
	}
	return nil
}

// ScanIdentity merges two cursors, one per log, each walking the
// (space_id, seq) primary key in order, in one read-only snapshot: memory
// stays at a page of rows per cursor however large the space, and the server
// sorts nothing.
func (s *pgStore) ScanIdentity(ctx context.Context, spaceID string, fn func(g *identity.GraphUpdate, m *identity.MappingUpdate) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		graph, err := openPgCursor(ctx, tx, "graph_rows", `SELECT seq, id, segment_id, canonical_segment_id, '', '', `+pgTriggerColumns+`
			FROM id_graph_updates WHERE space_id = $1 ORDER BY seq`, spaceID)
		if err != nil {
			return err
		}
		mappings, err := openPgCursor(ctx, tx, "mapping_rows", `SELECT seq, id, segment_id, external_id_type, external_id_value, external_id_hash, `+pgTriggerColumns+`
			FROM external_id_mapping_updates WHERE space_id = $1 ORDER BY seq`, spaceID)
		if err != nil {
			return err
		}
		for {
			g, err := graph.peek(ctx)
			if err != nil {
				return err
			}
			m, err := mappings.peek(ctx)
			if err != nil {
				return err
			}
			switch {
			case g == nil && m == nil:
				return nil
			case m == nil || (g != nil && g.seq < m.seq):
				graph.pop()
				err = fn(&identity.GraphUpdate{ID: g.id, Seq: g.seq, SegmentID: g.segmentID, CanonicalSegmentID: g.a, Trigger: g.trigger()}, nil)
			default:
				mappings.pop()
				err = fn(nil, &identity.MappingUpdate{ID: m.id, Seq: m.seq, SegmentID: m.segmentID, Type: m.a, Value: m.b, Hash: m.c, Trigger: m.trigger()})
			}
			if err != nil {
				return callbackError{err}
			}
		}
	})
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.err // the caller's own error, as it was
	}
	if err != nil {
		return fmt.Errorf("scanning identity: %w", err)
	}
	return nil
}

// callbackError carries an error of a caller's callback through a
// transaction unwrapped.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// pgIdentityRow is a row of either identity log: a, b, c are the canonical
// segment id (graph) or the external id type, value and hash (mapping).
type pgIdentityRow struct {
	seq                    int64
	id, segmentID, a, b, c string
	pgTrigger
}

// pgCursor reads a server-side cursor a page at a time.
type pgCursor struct {
	tx   pgx.Tx
	name string
	page []pgIdentityRow
	done bool
}

// pgCursorPage is how many rows a cursor fetches at once.
const pgCursorPage = 1000

func openPgCursor(ctx context.Context, tx pgx.Tx, name, query string, args ...any) (*pgCursor, error) {
	if _, err := tx.Exec(ctx, "DECLARE "+name+" NO SCROLL CURSOR FOR "+query, args...); err != nil {
		return nil, fmt.Errorf("opening cursor %s: %w", name, err)
	}
	return &pgCursor{tx: tx, name: name}, nil
}

// peek returns the next row without consuming it, or nil at the end.
func (c *pgCursor) peek(ctx context.Context) (*pgIdentityRow, error) {
	if len(c.page) == 0 && !c.done {
		rows, _ := c.tx.Query(ctx, fmt.Sprintf("FETCH FORWARD %d FROM %s", pgCursorPage, c.name))
		page, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgIdentityRow, error) {
			var r pgIdentityRow
			err := row.Scan(append([]any{&r.seq, &r.id, &r.segmentID, &r.a, &r.b, &r.c}, r.dest()...)...)
			return r, err
		})
		if err != nil {
			return nil, fmt.Errorf("reading cursor %s: %w", c.name, err)
		}
		c.page, c.done = page, len(page) < pgCursorPage
	}
	if len(c.page) == 0 {
		return nil, nil
	}
	return &c.page[0], nil
}

// pop consumes the row peek returned.
func (c *pgCursor) pop() { c.page = c.page[1:] }

// LatestTraits probes the (space, segment, seq) index backwards once per
// profile.
func (s *pgStore) LatestTraits(ctx context.Context, spaceID string, segmentIDs []string) (map[string]identity.TraitSet, error) {
	out := make(map[string]identity.TraitSet, len(segmentIDs))
	if len(segmentIDs) == 0 {
		return out, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT ids.sid, t.traits FROM unnest($2::text[]) AS ids (sid)
		CROSS JOIN LATERAL (SELECT traits FROM profile_traits_updates
			WHERE space_id = $1 AND segment_id = ids.sid ORDER BY seq DESC LIMIT 1) t`, spaceID, segmentIDs)
	var id string
	var raw []byte
	_, err := pgx.ForEachRow(rows, []any{&id, &raw}, func() error {
		ts, err := unmarshalTraits(raw)
		out[id] = ts
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading latest traits: %w", err)
	}
	return out, nil
}

func (s *pgStore) GraphUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.GraphUpdate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT seq, id, segment_id, canonical_segment_id, `+pgTriggerColumns+`
		FROM id_graph_updates WHERE space_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
		spaceID, after, upto, limitOrAll(limit))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (identity.GraphUpdate, error) {
		var g identity.GraphUpdate
		var tr pgTrigger
		err := row.Scan(append([]any{&g.Seq, &g.ID, &g.SegmentID, &g.CanonicalSegmentID}, tr.dest()...)...)
		g.Trigger = tr.trigger()
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading id_graph_updates: %w", err)
	}
	return out, nil
}

func (s *pgStore) MappingUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.MappingUpdate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT seq, id, segment_id, external_id_type, external_id_value, external_id_hash, `+pgTriggerColumns+`
		FROM external_id_mapping_updates WHERE space_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
		spaceID, after, upto, limitOrAll(limit))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (identity.MappingUpdate, error) {
		var m identity.MappingUpdate
		var tr pgTrigger
		err := row.Scan(append([]any{&m.Seq, &m.ID, &m.SegmentID, &m.Type, &m.Value, &m.Hash}, tr.dest()...)...)
		m.Trigger = tr.trigger()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading external_id_mapping_updates: %w", err)
	}
	return out, nil
}

func (s *pgStore) TraitsUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.TraitsUpdate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT seq, id, segment_id, traits, `+pgTriggerColumns+`
		FROM profile_traits_updates WHERE space_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
		spaceID, after, upto, limitOrAll(limit))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (identity.TraitsUpdate, error) {
		var t identity.TraitsUpdate
		var tr pgTrigger
		var raw []byte
		if err := row.Scan(append([]any{&t.Seq, &t.ID, &t.SegmentID, &raw}, tr.dest()...)...); err != nil {
			return t, err
		}
		t.Trigger = tr.trigger()
		var err error
		t.Traits, err = unmarshalTraits(raw)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading profile_traits_updates: %w", err)
	}
	return out, nil
}

// Events only returns events the resolver has committed: upto is capped at
// the space's resolver position.
func (s *pgStore) Events(ctx context.Context, spaceID string, after, upto int64, limit int) ([]StoredEvent, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgInboxColumns+`, coalesce(s.segment_id, '')
		FROM inbox i LEFT JOIN event_segments s ON s.pos = i.pos
		WHERE i.space_id = $1 AND i.pos > $2 AND i.pos <= $3
			AND i.pos <= (SELECT pos FROM resolver_positions WHERE space_id = $1)
		ORDER BY i.pos LIMIT $4`, spaceID, after, upto, limitOrAll(limit))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StoredEvent, error) {
		var e StoredEvent
		var ts *time.Time
		err := row.Scan(&e.Pos, &e.SpaceID, &e.SourceID, &e.MessageID, &e.Type, &e.ReceivedAt, &ts, &e.Payload, &e.SegmentID)
		e.ReceivedAt, e.Timestamp = e.ReceivedAt.UTC(), fromNullTime(ts)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return out, nil
}

// pgTriggerColumns are the trigger columns of every change log.
const pgTriggerColumns = `event_pos, event_id, event_type, event_name, source_id, "timestamp", received_at`

// pgTrigger scans pgTriggerColumns.
type pgTrigger struct {
	identity.Trigger
	ts, received *time.Time
}

func (t *pgTrigger) dest() []any {
	return []any{&t.EventPos, &t.EventID, &t.EventType, &t.EventName, &t.SourceID, &t.ts, &t.received}
}

func (t *pgTrigger) trigger() identity.Trigger {
	tr := t.Trigger
	tr.Timestamp, tr.ReceivedAt = fromNullTime(t.ts), fromNullTime(t.received)
	return tr
}
