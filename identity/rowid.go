package identity

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/segmentio/ksuid"
)

// The change-log tables, as named in row ids.
const (
	tableGraph    = "id_graph_updates"
	tableMappings = "external_id_mapping_updates"
	tableTraits   = "profile_traits_updates"
)

// segmentIDPrefix starts every profile id, as in Segment.
const segmentIDPrefix = "use_"

// trigger returns the Trigger of the rows caused by ev. Its EventName is
// ev.Event: the Track event name, or the Page or Screen name.
func trigger(ev *Event) Trigger {
	return Trigger{
		EventPos:   ev.Pos,
		EventID:    ev.MessageID,
		EventType:  ev.Type,
		EventName:  ev.Event,
		SourceID:   ev.SourceID,
		Timestamp:  ev.Timestamp,
		ReceivedAt: ev.ReceivedAt,
	}
}

// rowID is the stable id of the ordinal-th row of table caused by ev: the
// lowercase hex of the first 16 bytes of SHA-1 over the table name, the
// event's source, message id and position, and the ordinal. Resolving the
// same event again gives the same ids, so a retried commit or load is
// idempotent.
func rowID(table string, ev *Event, ordinal int) string {
	h := sha1.New()
	writeFields(h, table, ev.SourceID, ev.MessageID)
	writeInt(h, ev.Pos)
	writeInt(h, int64(ordinal))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// mintSegmentID returns the n-th profile id minted by ev: "use_" and a
// KSUID with the time ev.ReceivedAt and as payload the first 16 bytes of
// SHA-256 over the event's source, message id and position, and n. The same
// event stream always mints the same ids.
func mintSegmentID(ev *Event, n int) ksuid.KSUID {
	h := sha256.New()
	writeFields(h, ev.SourceID, ev.MessageID)
	writeInt(h, ev.Pos)
	writeInt(h, int64(n))
	id, err := ksuid.FromParts(ev.ReceivedAt, h.Sum(nil)[:16])
	if err != nil {
		panic(err) // only for a payload that is not 16 bytes
	}
	return id
}

// formatSegmentID renders a profile id.
func formatSegmentID(id ksuid.KSUID) string {
	return segmentIDPrefix + id.String()
}

// parseSegmentID reads a profile id written by formatSegmentID.
func parseSegmentID(s string) (ksuid.KSUID, error) {
	rest, ok := strings.CutPrefix(s, segmentIDPrefix)
	if !ok {
		return ksuid.Nil, fmt.Errorf("identity: segment id %q does not start with %q", s, segmentIDPrefix)
	}
	id, err := ksuid.Parse(rest)
	if err != nil {
		return ksuid.Nil, fmt.Errorf("identity: segment id %q: %w", s, err)
	}
	return id, nil
}

// ExternalIDHash is the external_id_hash of an identifier: the lowercase hex
// of SHA-1 over the type and the value, concatenated without a separator
// (segment-semantics §0).
func ExternalIDHash(typ, value string) string {
	h := sha1.New()
	h.Write([]byte(typ))
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil))
}

// writeFields writes length-prefixed strings, so that field boundaries are
// part of the hash.
func writeFields(h hash.Hash, fields ...string) {
	var n [binary.MaxVarintLen64]byte
	for _, f := range fields {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
}

func writeInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}
