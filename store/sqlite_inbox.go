package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Append stores events in one write transaction. SQLite has one writer at a
// time, so positions become visible in increasing order by construction.
// Each event is a claim in inbox_dedupe (see pgAppendSQL for the rule) and,
// if claimed, an insert into the inbox; statements are prepared once per
// call and run in-process, so a statement per event is cheap here.
func (s *sqliteStore) Append(ctx context.Context, events []InboxEvent, dedupeWindow time.Duration) ([]bool, error) {
	accepted := make([]bool, len(events))
	if len(events) == 0 {
		return accepted, nil
	}
	if err := checkEvents(events); err != nil {
		return nil, err
	}
	first := firstOccurrences(events)
	positions := make([]int64, len(events)) // 0: not accepted
	now := s.opts.clock()
	err := sqliteTx(ctx, s.w, func(tx *sql.Tx) error {
		claim, err := tx.PrepareContext(ctx, `INSERT INTO inbox_dedupe (key, received_at) VALUES (?1, ?2)
			ON CONFLICT (key) DO UPDATE SET received_at = excluded.received_at
			WHERE ?3 <= 0 OR inbox_dedupe.received_at <= excluded.received_at - ?3`)
		if err != nil {
			return err
		}
		defer claim.Close()
		insert, err := tx.PrepareContext(ctx, `INSERT INTO inbox (space_id, source_id, message_id, type, received_at, timestamp, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insert.Close()
		minutes := map[sqliteMinute][2]int64{} // min and max position
		for i := range events {
			e := &events[i]
			if first[dedupeKey{e.SourceID, e.MessageID}] != i {
				continue // a repeat within the call
			}
			if e.ReceivedAt.IsZero() {
				e.ReceivedAt = now
			}
			key := dedupeDigest(e.SourceID, e.MessageID)
			res, err := claim.ExecContext(ctx, key[:], micros(e.ReceivedAt), dedupeWindow.Microseconds())
			if err != nil {
				return fmt.Errorf("checking message id: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // a duplicate
			}
			res, err = insert.ExecContext(ctx, e.SpaceID, e.SourceID, e.MessageID, e.Type,
				micros(e.ReceivedAt), nullMicros(e.Timestamp), nonNil(e.Payload))
			if err != nil {
				return err
			}
			pos, err := res.LastInsertId()
			if err != nil {
				return err
			}
			positions[i] = pos
			m := sqliteMinute{e.SpaceID, minuteOf(e.ReceivedAt)}
			if r, ok := minutes[m]; ok {
				minutes[m] = [2]int64{min(r[0], pos), max(r[1], pos)}
			} else {
				minutes[m] = [2]int64{pos, pos}
			}
		}
		for m, r := range minutes {
			_, err := tx.ExecContext(ctx, `INSERT INTO inbox_minutes (space_id, minute, min_pos, max_pos) VALUES (?, ?, ?, ?)
				ON CONFLICT (space_id, minute) DO UPDATE
				SET min_pos = min(min_pos, excluded.min_pos), max_pos = max(max_pos, excluded.max_pos)`,
				m.spaceID, m.minute, r[0], r[1])
			if err != nil {
				return fmt.Errorf("indexing positions by time: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("appending events: %w", err)
	}
	for i, pos := range positions {
		if pos != 0 {
			accepted[i] = true
			events[i].Pos = pos
		}
	}
	return accepted, nil
}

// sqliteMinute is a key of inbox_minutes.
type sqliteMinute struct {
	spaceID string
	minute  int64
}

const sqliteInboxColumns = `i.pos, i.space_id, i.source_id, i.message_id, i.type, i.received_at, i.timestamp, i.payload`

func (s *sqliteStore) ReadInbox(ctx context.Context, spaceID string, after int64, limit int) ([]InboxEvent, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqliteInboxColumns+` FROM inbox i
		WHERE i.space_id = ? AND i.pos > ? ORDER BY i.pos LIMIT ?`, spaceID, after, limitOrAll(limit))
	events, err := collect(rows, err, func(row scanner) (InboxEvent, error) { return scanSqliteInbox(row) })
	if err != nil {
		return nil, fmt.Errorf("reading inbox: %w", err)
	}
	return events, nil
}

// scanSqliteInbox scans sqliteInboxColumns, then extra.
func scanSqliteInbox(row scanner, extra ...any) (InboxEvent, error) {
	var e InboxEvent
	var received int64
	var ts sql.NullInt64
	err := row.Scan(append([]any{&e.Pos, &e.SpaceID, &e.SourceID, &e.MessageID, &e.Type, &received, &ts, &e.Payload}, extra...)...)
	e.ReceivedAt, e.Timestamp = fromMicros(received), fromNullMicros(ts)
	return e, err
}

func (s *sqliteStore) PruneDedupe(ctx context.Context, cutoff time.Time) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM inbox_dedupe WHERE received_at < ?", micros(cutoff)); err != nil {
		return fmt.Errorf("pruning dedupe: %w", err)
	}
	return nil
}

// EventPosAt reads inbox_minutes like the PostgreSQL store does.
func (s *sqliteStore) EventPosAt(ctx context.Context, spaceID string, t time.Time) (int64, error) {
	var pos int64
	err := s.r.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT max(max_pos) FROM inbox_minutes WHERE space_id = ?1 AND minute < ?2), 0),
		coalesce((SELECT max(i.pos) FROM inbox_minutes m
			JOIN inbox i ON i.space_id = m.space_id AND i.pos BETWEEN m.min_pos AND m.max_pos
			WHERE m.space_id = ?1 AND m.minute = ?2 AND i.received_at < ?3), 0))`,
		spaceID, minuteOf(t), micros(t)).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("finding event position at %s: %w", t.Format(time.RFC3339), err)
	}
	return pos, nil
}
