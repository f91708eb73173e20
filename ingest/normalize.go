package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// normalized is a validated event with the values the server sets.
type normalized struct {
	fields                                   map[string]json.RawMessage // the event as sent
	typ, messageID                           string
	userID, anonymousID, groupID, previousID string
	receivedAt, timestamp                    time.Time
	originalTimestamp, sentAt                *time.Time // nil when unknown
}

// encode writes the stored form of the event: the message as sent, with the
// batch's context and integrations merged in (the event's own keys win, at
// every depth), the identifiers as strings, the server's timestamps in
// RFC 3339 UTC, and no writeKey. Keys are sorted; the JSON is compact.
func (n *normalized) encode(batchContext, batchIntegrations json.RawMessage) ([]byte, error) {
	f := n.fields
	for _, m := range [...]struct {
		name  string
		batch json.RawMessage
	}{{"context", batchContext}, {"integrations", batchIntegrations}} {
		if m.batch == nil {
			continue
		}
		merged, err := mergeObjects(m.batch, f[m.name])
		if err != nil {
			return nil, err
		}
		f[m.name] = merged
	}

	delete(f, "writeKey")
	f["type"] = quote(n.typ)
	f["messageId"] = quote(n.messageID)
	setString(f, "userId", n.userID)
	setString(f, "anonymousId", n.anonymousID)
	switch n.typ {
	case typeGroup:
		f["groupId"] = quote(n.groupID)
	case typeAlias:
		f["previousId"] = quote(n.previousID)
	}
	f["receivedAt"] = quoteTime(n.receivedAt)
	f["timestamp"] = quoteTime(n.timestamp)
	setTime(f, "originalTimestamp", n.originalTimestamp)
	setTime(f, "sentAt", n.sentAt)
	return encodeObject(f)
}

// setString sets a string field, or removes it when v is empty.
func setString(f map[string]json.RawMessage, key, v string) {
	if v == "" {
		delete(f, key)
		return
	}
	f[key] = quote(v)
}

// setTime sets a time field, or removes it when t is nil.
func setTime(f map[string]json.RawMessage, key string, t *time.Time) {
	if t == nil {
		delete(f, key)
		return
	}
	f[key] = quoteTime(*t)
}

// mergeObjects merges the JSON object base into over: keys only in base are
// added, keys in both keep over's value, except that two objects are merged
// in turn. A null or absent over gives base.
func mergeObjects(base, over json.RawMessage) (json.RawMessage, error) {
	if isNull(over) {
		return base, nil
	}
	var b, o map[string]json.RawMessage
	if err := json.Unmarshal(base, &b); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(over, &o); err != nil {
		return nil, err
	}
	for k, bv := range b {
		ov, ok := o[k]
		switch {
		case !ok:
			o[k] = bv
		case isObject(bv) && isObject(ov):
			m, err := mergeObjects(bv, ov)
			if err != nil {
				return nil, err
			}
			o[k] = m
		}
	}
	return encodeObject(o)
}

// encodeObject writes a JSON object with sorted keys and compact values.
func encodeObject(f map[string]json.RawMessage) ([]byte, error) {
	keys := make([]string, 0, len(f))
	size := 2
	for k, v := range f {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(quote(k))
		buf.WriteByte(':')
		if err := json.Compact(&buf, f[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// quote returns s as a JSON string.
func quote(s string) json.RawMessage {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			b, _ := json.Marshal(s) // cannot fail for a string
			return b
		}
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// quoteTime returns t as a JSON string in RFC 3339 UTC.
func quoteTime(t time.Time) json.RawMessage {
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// newMessageID returns a messageId for an event sent without one:
// "api-" and a random UUID (version 4).
func newMessageID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [40]byte
	copy(b[:], "api-")
	hex.Encode(b[4:12], u[0:4])
	b[12] = '-'
	hex.Encode(b[13:17], u[4:6])
	b[17] = '-'
	hex.Encode(b[18:22], u[6:8])
	b[22] = '-'
	hex.Encode(b[23:27], u[8:10])
	b[27] = '-'
	hex.Encode(b[28:40], u[10:16])
	return string(b[:])
}
