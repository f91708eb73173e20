package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	"crypto/sha256"
	"encoding/hex"
	"github.com/profilesync/profilesync/identity"
	"time"
)

// hashWriteKey is how a write key is kept: hex SHA-256. Write keys are
// random and long, so a fast unsalted hash is enough and keeps lookup by key
// an index probe.
func hashWriteKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// dedupeKey identifies a message for deduplication.
type dedupeKey struct{ sourceID, messageID string }

// dedupeDigest is how inbox_dedupe keys a message: the first 16 bytes of a
// SHA-256 of source id and message id. A fixed 16-byte key keeps the index
// small and its comparisons cheap on the ingest path; at 128 bits, chance
// collisions are out of reach even at billions of ids.
func dedupeDigest(sourceID, messageID string) [16]byte {
	h := sha256.New()
	h.Write([]byte(sourceID))
	h.Write([]byte{0})
	h.Write([]byte(messageID))
	var sum [sha256.Size]byte
	return [16]byte(h.Sum(sum[:0]))
}

// checkEvents refuses events that lack what the inbox keys them by.
func checkEvents(events []InboxEvent) error {
	for i, e := range events {
		if e.SpaceID == "" || e.SourceID == "" || e.MessageID == "" {
			return fmt.Errorf("appending events: event %d lacks a space, source or message id", i)
		}
	}
	return nil
}

// firstOccurrences maps each (SourceID, MessageID) of a call to the index
// of its first event: the events that repeat it are skipped.
func firstOccurrences(events []InboxEvent) map[dedupeKey]int {
	first := make(map[dedupeKey]int, len(events))
	for i, e := range events {
		k := dedupeKey{e.SourceID, e.MessageID}
		if _, dup := first[k]; !dup {
			first[k] = i
		}
	}
	return first
}

// minuteOf is the minute bucket of the time to position index.
// It floors, like the SQL floor(epoch / 60), so that times before 1970
// bucket the same way in Go and in PostgreSQL.
func minuteOf(t time.Time) int64 {
	s := t.Unix()
	m := s / 60
	if s%60 < 0 {
		m--
	}
	return m
}

// limitOrAll turns a limit <= 0 ("no limit") into the largest one.
func limitOrAll(limit int) int64 {
	if limit <= 0 {
		return 1<<63 - 1
	}
	return int64(limit)
}

// marshalConfig encodes a warehouse config; nil is stored as an empty
// object.
func marshalConfig(c map[string]string) ([]byte, error) {
	if c == nil {
		c = map[string]string{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return b, nil
}

// marshalSyncRun encodes the table results and errors of a report.
func marshalSyncRun(r SyncRun) (tables, errs []byte, err error) {
	if r.Tables == nil {
		r.Tables = []TableResult{}
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
	if tables, err = json.Marshal(r.Tables); err != nil {
		return nil, nil, fmt.Errorf("encoding tables: %w", err)
	}
	if errs, err = json.Marshal(r.Errors); err != nil {
		return nil, nil, fmt.Errorf("encoding errors: %w", err)
	}
	return tables, errs, nil
}

// unmarshalSyncRun decodes what marshalSyncRun encoded into r; empty lists
// come back nil.
func unmarshalSyncRun(r *SyncRun, tables, errs []byte) error {
	if err := json.Unmarshal(tables, &r.Tables); err != nil {
		return fmt.Errorf("decoding tables of sync run %q: %w", r.ID, err)
	}
	if err := json.Unmarshal(errs, &r.Errors); err != nil {
		return fmt.Errorf("decoding errors of sync run %q: %w", r.ID, err)
	}
	if len(r.Tables) == 0 {
		r.Tables = nil
	}
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	return nil
}

// marshalTraits encodes a trait set; nil is stored as an empty object.
func marshalTraits(ts identity.TraitSet) ([]byte, error) {
	if ts == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(ts)
	if err != nil {
		return nil, fmt.Errorf("encoding traits: %w", err)
	}
	return b, nil
}

// unmarshalTraits decodes a trait set keeping numbers as json.Number, as
// identity.ParseEvent does, so that large integers survive and values compare
// equal to those of parsed events.
func unmarshalTraits(b []byte) (identity.TraitSet, error) {
	ts := identity.TraitSet{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("decoding traits: %w", err)
	}
	return ts, nil
}

// nonNil stores a nil payload as an empty one.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
