package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/profilesync/profilesync/identity"
)

func (s *sqliteStore) ResolverPosition(ctx context.Context, spaceID string) (Position, error) {
	var p Position
	err := s.r.QueryRowContext(ctx, "SELECT pos, last_seq FROM resolver_positions WHERE space_id = ?", spaceID).
		Scan(&p.Pos, &p.LastSeq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Position{}, fmt.Errorf("reading resolver position: %w", err)
	}
	return p, nil
}

// CommitBatch runs in one write transaction; seqs come from the one-row
// change_seq counter, which the single writer makes store-wide ordered.
func (s *sqliteStore) CommitBatch(ctx context.Context, b *Batch) error {
	if err := b.validate(); err != nil {
		return fmt.Errorf("committing batch: %w", err)
	}
	var seqs batchSeqs
	err := sqliteTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := sqliteMovePosition(ctx, tx, b); err != nil {
			return err
		}
		if n := b.rowCount(); n > 0 {
			var last int64
			if err := tx.QueryRowContext(ctx, "UPDATE change_seq SET last = last + ? RETURNING last", n).Scan(&last); err != nil {
				return fmt.Errorf("allocating seqs: %w", err)
			}
			list := make([]int64, n)
			for i := range list {
				list[i] = last - int64(n) + 1 + int64(i)
			}
			seqs = b.assignSeqs(list)
			if err := sqliteInsertChanges(ctx, tx, b, seqs); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE resolver_positions SET last_seq = ? WHERE space_id = ?", last, b.SpaceID); err != nil {
				return fmt.Errorf("recording last seq: %w", err)
			}
		}
		return sqliteStampEvents(ctx, tx, b.Events)
	})
	if err != nil {
		return fmt.Errorf("committing batch of space %q at position %d: %w", b.SpaceID, b.FromPos, err)
	}
	b.writeBack(seqs)
	return nil
}

// sqliteMovePosition is pgMovePosition for SQLite.
func sqliteMovePosition(ctx context.Context, tx *sql.Tx, b *Batch) error {
	res, err := tx.ExecContext(ctx, "UPDATE resolver_positions SET pos = ? WHERE space_id = ? AND pos = ?",
		b.ToPos, b.SpaceID, b.FromPos)
	if err != nil {
		return fmt.Errorf("moving position: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if b.FromPos != 0 {
		return ErrConflict
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO resolver_positions (space_id, pos, last_seq) VALUES (?, ?, 0)
		ON CONFLICT (space_id) DO NOTHING`, b.SpaceID, b.ToPos)
	if err != nil {
		return fmt.Errorf("moving position: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// sqliteInsertChanges writes the change rows of b with one prepared
// statement per table.
func sqliteInsertChanges(ctx context.Context, tx *sql.Tx, b *Batch, seqs batchSeqs) error {
	trigger := func(t identity.Trigger) []any {
		return []any{t.EventPos, t.EventID, t.EventType, t.EventName, t.SourceID, nullMicros(t.Timestamp), nullMicros(t.ReceivedAt)}
	}
	const triggerCols = "event_pos, event_id, event_type, event_name, source_id, timestamp, received_at"
	err := insertEach(ctx, tx, `INSERT INTO id_graph_updates (space_id, seq, id, segment_id, canonical_segment_id, `+triggerCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(b.Graph), func(i int) ([]any, error) {
		g := &b.Graph[i]
		return append([]any{b.SpaceID, seqs.graph[i], g.ID, g.SegmentID, g.CanonicalSegmentID}, trigger(g.Trigger)...), nil
	})
	if err != nil {
		return fmt.Errorf("writing id_graph_updates: %w", err)
	}
	err = insertEach(ctx, tx, `INSERT INTO external_id_mapping_updates (space_id, seq, id, segment_id,
		external_id_type, external_id_value, external_id_hash, `+triggerCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(b.Mappings), func(i int) ([]any, error) {
		m := &b.Mappings[i]
		return append([]any{b.SpaceID, seqs.mappings[i], m.ID, m.SegmentID, m.Type, m.Value, m.Hash}, trigger(m.Trigger)...), nil
	})
	if err != nil {
		return fmt.Errorf("writing external_id_mapping_updates: %w", err)
	}
	err = insertEach(ctx, tx, `INSERT INTO profile_traits_updates (space_id, seq, id, segment_id, traits, `+triggerCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(b.Traits), func(i int) ([]any, error) {
		t := &b.Traits[i]
		traits, err := marshalTraits(t.Traits)
		if err != nil {
			return nil, err
		}
		return append([]any{b.SpaceID, seqs.traits[i], t.ID, t.SegmentID, string(traits)}, trigger(t.Trigger)...), nil
	})
	if err != nil {
		return fmt.Errorf("writing profile_traits_updates: %w", err)
	}
	return nil
}

// sqliteStampEvents records the profile of each resolved event.
func sqliteStampEvents(ctx context.Context, tx *sql.Tx, events []EventSegment) error {
	stamped := make([]EventSegment, 0, len(events))
	for _, e := range events {
		if e.SegmentID != "" {
			stamped = append(stamped, e)
		}
	}
	err := insertEach(ctx, tx, "INSERT INTO event_segments (pos, segment_id) VALUES (?, ?)", len(stamped),
		func(i int) ([]any, error) { return []any{stamped[i].Pos, stamped[i].SegmentID}, nil })
	if err != nil {
		return fmt.Errorf("stamping events: %w", err)
	}
	return nil
}

// insertEach runs a prepared statement n times with the arguments row(i).
func insertEach(ctx context.Context, tx *sql.Tx, query string, n int, row func(i int) ([]any, error)) error {
	if n == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range n {
		args, err := row(i)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// sqliteScanIdentitySQL is pgScanIdentitySQL for SQLite, whose planner also
// merges the two index-ordered arms instead of sorting.
const sqliteScanIdentitySQL = `
SELECT seq, 1, id, segment_id, canonical_segment_id, '', '', event_pos, event_id, event_type, event_name, source_id, timestamp, received_at
FROM id_graph_updates WHERE space_id = ?1
UNION ALL
SELECT seq, 0, id, segment_id, external_id_type, external_id_value, external_id_hash, event_pos, event_id, event_type, event_name, source_id, timestamp, received_at
FROM external_id_mapping_updates WHERE space_id = ?1
ORDER BY seq`

func (s *sqliteStore) ScanIdentity(ctx context.Context, spaceID string, fn func(g *identity.GraphUpdate, m *identity.MappingUpdate) error) error {
	rows, err := s.r.QueryContext(ctx, sqliteScanIdentitySQL, spaceID)
	if err != nil {
		return fmt.Errorf("scanning identity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq           int64
			isGraph       bool
			id, segmentID string
			a, b, c       string
			tr            sqliteTrigger
		)
		if err := rows.Scan(append([]any{&seq, &isGraph, &id, &segmentID, &a, &b, &c}, tr.dest()...)...); err != nil {
			return fmt.Errorf("scanning identity: %w", err)
		}
		if isGraph {
			err = fn(&identity.GraphUpdate{ID: id, Seq: seq, SegmentID: segmentID, CanonicalSegmentID: a, Trigger: tr.trigger()}, nil)
		} else {
			err = fn(nil, &identity.MappingUpdate{ID: id, Seq: seq, SegmentID: segmentID, Type: a, Value: b, Hash: c, Trigger: tr.trigger()})
		}
		if err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scanning identity: %w", err)
	}
	return nil
}

// LatestTraits passes the ids as one JSON array and probes the
// (space, segment, seq) index once per id.
func (s *sqliteStore) LatestTraits(ctx context.Context, spaceID string, segmentIDs []string) (map[string]identity.TraitSet, error) {
	out := make(map[string]identity.TraitSet, len(segmentIDs))
	if len(segmentIDs) == 0 {
		return out, nil
	}
	ids, err := json.Marshal(segmentIDs)
	if err != nil {
		return nil, fmt.Errorf("reading latest traits: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT ids.value, (SELECT traits FROM profile_traits_updates
			WHERE space_id = ?1 AND segment_id = ids.value ORDER BY seq DESC LIMIT 1)
		FROM json_each(?2) AS ids`, spaceID, string(ids))
	if err != nil {
		return nil, fmt.Errorf("reading latest traits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var raw sql.NullString
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("reading latest traits: %w", err)
		}
		if !raw.Valid {
			continue // no snapshot yet
		}
		if out[id], err = unmarshalTraits([]byte(raw.String)); err != nil {
			return nil, fmt.Errorf("reading latest traits: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading latest traits: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) GraphUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.GraphUpdate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, segment_id, canonical_segment_id, `+sqliteTriggerColumns+`
		FROM id_graph_updates WHERE space_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
		spaceID, after, upto, limitOrAll(limit))
	out, err := collect(rows, err, func(row scanner) (identity.GraphUpdate, error) {
		var g identity.GraphUpdate
		var tr sqliteTrigger
		err := row.Scan(append([]any{&g.Seq, &g.ID, &g.SegmentID, &g.CanonicalSegmentID}, tr.dest()...)...)
		g.Trigger = tr.trigger()
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading id_graph_updates: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) MappingUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.MappingUpdate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, segment_id, external_id_type, external_id_value, external_id_hash, `+sqliteTriggerColumns+`
		FROM external_id_mapping_updates WHERE space_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
		spaceID, after, upto, limitOrAll(limit))
	out, err := collect(rows, err, func(row scanner) (identity.MappingUpdate, error) {
		var m identity.MappingUpdate
		var tr sqliteTrigger
		err := row.Scan(append([]any{&m.Seq, &m.ID, &m.SegmentID, &m.Type, &m.Value, &m.Hash}, tr.dest()...)...)
		m.Trigger = tr.trigger()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading external_id_mapping_updates: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) TraitsUpdates(ctx context.Context, spaceID string, after, upto int64, limit int) ([]identity.TraitsUpdate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, segment_id, traits, `+sqliteTriggerColumns+`
		FROM profile_traits_updates WHERE space_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
		spaceID, after, upto, limitOrAll(limit))
	out, err := collect(rows, err, func(row scanner) (identity.TraitsUpdate, error) {
		var t identity.TraitsUpdate
		var tr sqliteTrigger
		var raw string
		if err := row.Scan(append([]any{&t.Seq, &t.ID, &t.SegmentID, &raw}, tr.dest()...)...); err != nil {
			return t, err
		}
		t.Trigger = tr.trigger()
		var err error
		t.Traits, err = unmarshalTraits([]byte(raw))
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading profile_traits_updates: %w", err)
	}
	return out, nil
}

// Events only returns events the resolver has committed, like the
// PostgreSQL store.
func (s *sqliteStore) Events(ctx context.Context, spaceID string, after, upto int64, limit int) ([]StoredEvent, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqliteInboxColumns+`, coalesce(s.segment_id, '')
		FROM inbox i LEFT JOIN event_segments s ON s.pos = i.pos
		WHERE i.space_id = ?1 AND i.pos > ?2 AND i.pos <= ?3
			AND i.pos <= (SELECT pos FROM resolver_positions WHERE space_id = ?1)
		ORDER BY i.pos LIMIT ?4`, spaceID, after, upto, limitOrAll(limit))
	out, err := collect(rows, err, func(row scanner) (StoredEvent, error) {
		var e StoredEvent
		var err error
		e.InboxEvent, err = scanSqliteInbox(row, &e.SegmentID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return out, nil
}

// sqliteTriggerColumns are the trigger columns of every change log.
const sqliteTriggerColumns = "event_pos, event_id, event_type, event_name, source_id, timestamp, received_at"

// sqliteTrigger scans sqliteTriggerColumns.
type sqliteTrigger struct {
	identity.Trigger
	ts, received sql.NullInt64
}

func (t *sqliteTrigger) dest() []any {
	return []any{&t.EventPos, &t.EventID, &t.EventType, &t.EventName, &t.SourceID, &t.ts, &t.received}
}

func (t *sqliteTrigger) trigger() identity.Trigger {
	tr := t.Trigger
	tr.Timestamp, tr.ReceivedAt = fromNullMicros(t.ts), fromNullMicros(t.received)
	return tr
}
