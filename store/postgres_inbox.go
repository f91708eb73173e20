package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgAppendSQL stores a call's events in one statement. The caller has
// already dropped the repeats within the call and locked every space
// involved, so:
//
//   - fresh claims each message id in inbox_dedupe: a new id is inserted, one
//     last accepted at least a window before is refreshed, and anything else
//     is left alone and returns nothing;
//   - ins appends the claimed events to the inbox in call order, so that
//     positions follow the input;
//   - minutes records, per space and minute received, the positions taken,
//     which is what EventPosAt reads.
//
// A window of 0 or less turns the cross-call check off.
const pgAppendSQL = `
WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bytea[], $8::uuid[])
		WITH ORDINALITY AS t(space_id, source_id, message_id, type, received_at, ts, payload, key, ord)
), fresh AS (
	INSERT INTO inbox_dedupe AS d (key, received_at)
	SELECT key, received_at FROM input
	ON CONFLICT (key) DO UPDATE SET received_at = EXCLUDED.received_at
		WHERE $9::bigint <= 0 OR d.received_at <= EXCLUDED.received_at - $9::bigint * interval '1 microsecond'
	RETURNING key
), ins AS (
	INSERT INTO inbox (space_id, source_id, message_id, type, received_at, "timestamp", payload)
	SELECT i.space_id, i.source_id, i.message_id, i.type, i.received_at, i.ts, i.payload
	FROM input i JOIN fresh f USING (key)
	ORDER BY i.ord
	RETURNING pos, space_id, source_id, message_id, received_at
), minutes AS (
	INSERT INTO inbox_minutes AS m (space_id, minute, min_pos, max_pos)
	SELECT space_id, floor(extract(epoch FROM received_at) / 60)::bigint, min(pos), max(pos)
	FROM ins GROUP BY 1, 2
	ON CONFLICT (space_id, minute) DO UPDATE
		SET min_pos = least(m.min_pos, EXCLUDED.min_pos), max_pos = greatest(m.max_pos, EXCLUDED.max_pos)
)
SELECT source_id, message_id, pos FROM ins`

// Append stores events in one transaction. Before taking positions it locks
// each space of the call (a transaction advisory lock, in key order so that
// two calls cannot deadlock): within a space, a call takes its positions
// and commits before the next call takes any, so positions become visible in
// increasing order. Calls to different spaces run in parallel.
func (s *pgStore) Append(ctx context.Context, events []InboxEvent, dedupeWindow time.Duration) ([]bool, error) {
	accepted := make([]bool, len(events))
	if len(events) == 0 {
		return accepted, nil
	}
	if err := checkEvents(events); err != nil {
		return nil, err
	}
	first := firstOccurrences(events)
	n := len(first)
	var (
		spaces     = make([]string, 0, n)
		sources    = make([]string, 0, n)
		messages   = make([]string, 0, n)
		types      = make([]string, 0, n)
		receivedAt = make([]time.Time, 0, n)
		timestamps = make([]*time.Time, 0, n)
		payloads   = make([][]byte, 0, n)
		digests    = make([][16]byte, 0, n)
		positions  = make([]int64, len(events)) // 0: not accepted
		keys       []int64
	)
	now := s.opts.clock()
	for i := range events {
		e := &events[i]
		if first[dedupeKey{e.SourceID, e.MessageID}] != i {
			continue // a repeat within the call
		}
		if e.ReceivedAt.IsZero() {
			e.ReceivedAt = now
		}
		spaces = append(spaces, e.SpaceID)
		sources = append(sources, e.SourceID)
		messages = append(messages, e.MessageID)
		types = append(types, e.Type)
		receivedAt = append(receivedAt, e.ReceivedAt)
		timestamps = append(timestamps, nullTime(e.Timestamp))
		payloads = append(payloads, nonNil(e.Payload))
		digests = append(digests, dedupeDigest(e.SourceID, e.MessageID))
		k := inboxLockKey(e.SpaceID)
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	// One round trip: the queued statements run as one implicit
	// transaction, which the advisory locks last until.
	var batch pgx.Batch
	for _, k := range keys {
		batch.Queue("SELECT pg_advisory_xact_lock($1)", k)
	}
	batch.Queue(pgAppendSQL, spaces, sources, messages, types, receivedAt, timestamps, payloads,
		digests, dedupeWindow.Microseconds()).Query(func(rows pgx.Rows) error {
		var k dedupeKey
		var pos int64
		_, err := pgx.ForEachRow(rows, []any{&k.sourceID, &k.messageID, &pos}, func() error {
			positions[first[k]] = pos
			return nil
		})
		return err
	})
	err := s.pool.SendBatch(ctx, &batch).Close()
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

// inboxLockKey is the advisory lock that orders a space's appends.
func inboxLockKey(spaceID string) int64 {
	return advisoryKey("profilesync:inbox:" + spaceID)
}

const pgInboxColumns = `i.pos, i.space_id, i.source_id, i.message_id, i.type, i.received_at, i."timestamp", i.payload`

func (s *pgStore) ReadInbox(ctx context.Context, spaceID string, after int64, limit int) ([]InboxEvent, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgInboxColumns+` FROM inbox i
		WHERE i.space_id = $1 AND i.pos > $2 ORDER BY i.pos LIMIT $3`, spaceID, after, limitOrAll(limit))
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (InboxEvent, error) {
		var e InboxEvent
		var ts *time.Time
		err := row.Scan(&e.Pos, &e.SpaceID, &e.SourceID, &e.MessageID, &e.Type, &e.ReceivedAt, &ts, &e.Payload)
		e.ReceivedAt, e.Timestamp = e.ReceivedAt.UTC(), fromNullTime(ts)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading inbox: %w", err)
	}
	return events, nil
}

func (s *pgStore) PruneDedupe(ctx context.Context, cutoff time.Time) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM inbox_dedupe WHERE received_at < $1", cutoff); err != nil {
		return fmt.Errorf("pruning dedupe: %w", err)
	}
	return nil
}

// EventPosAt finds the last position received before t without scanning the
// inbox: the positions of earlier minutes come from inbox_minutes, and only
// the events of t's own minute are read.
func (s *pgStore) EventPosAt(ctx context.Context, spaceID string, t time.Time) (int64, error) {
	minute := minuteOf(t)
	var pos int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(greatest(
		(SELECT max(max_pos) FROM inbox_minutes WHERE space_id = $1 AND minute < $2),
		(SELECT max(i.pos) FROM inbox_minutes m
			JOIN inbox i ON i.space_id = m.space_id AND i.pos BETWEEN m.min_pos AND m.max_pos
			WHERE m.space_id = $1 AND m.minute = $2 AND i.received_at < $3)
	), 0)`, spaceID, minute, t).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("finding event position at %s: %w", t.Format(time.RFC3339), err)
	}
	return pos, nil
}

// nullTime is a nullable timestamp argument: nil for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNullTime reads a nullable timestamp back, in UTC.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
