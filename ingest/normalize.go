package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"
	"unicode/utf8"
)

// normalized is a validated event with the values the server sets.
type normalized struct {
	fields map[string]json.RawMessage // the event as sent
	typ    string
	ids    ids
	times  times
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
	f["messageId"] = quote(n.ids.messageID)
	setString(f, "userId", n.ids.userID)
	setString(f, "anonymousId", n.ids.anonymousID)
	switch n.typ {
	case typeGroup:
		f["groupId"] = quote(n.ids.groupID)
	case typeAlias:
		f["previousId"] = quote(n.ids.previousID)
	}
	f["receivedAt"] = quoteTime(n.times.receivedAt)
	f["timestamp"] = quoteTime(n.times.timestamp)
	setTime(f, "originalTimestamp", n.times.originalTimestamp)
	setTime(f, "sentAt", n.times.sentAt)
	b := encodeObject(f)
	// Strings as sent may hold bytes that are not UTF-8; JSON decoders
	// replace them, and so does the stored form, once and for all.
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return b, nil
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

// maxMergeDepth bounds how deep a batch's context and integrations are
// merged into an item's: below it the item's value wins whole. Real contexts
// are a few levels deep; the bound keeps a deeply nested body from costing
// time quadratic in its size.
const maxMergeDepth = 8

// mergeObjects merges the JSON object base into over: keys only in base are
// added, keys in both keep over's value, except that two objects are merged
// in turn (up to maxMergeDepth levels). A null or absent over gives base.
// Both must be valid JSON.
func mergeObjects(base, over json.RawMessage) (json.RawMessage, error) {
	return mergeAt(base, over, 1)
}

func mergeAt(base, over json.RawMessage, depth int) (json.RawMessage, error) {
	if isNull(over) {
		return base, nil
	}
	b, okB := splitObject(base)
	o, okO := splitObject(over)
	if !okB || !okO {
		return nil, errors.New("context and integrations must be JSON objects")
	}
	for k, bv := range b {
		ov, ok := o[k]
		switch {
		case !ok:
			o[k] = bv
		case depth < maxMergeDepth && isObject(bv) && isObject(ov):
			m, err := mergeAt(bv, ov, depth+1)
			if err != nil {
				return nil, err
			}
			o[k] = m
		}
	}
	return encodeObject(o), nil
}

// encodeObject writes a JSON object with sorted keys and compact values.
// The values must be valid JSON, as json.Unmarshal leaves json.RawMessage.
func encodeObject(f map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(f))
	size := 2
	for k, v := range f {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	buf := make([]byte, 0, size)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendQuoted(buf, k)
		buf = append(buf, ':')
		buf = appendCompact(buf, f[k])
	}
	return append(buf, '}')
}

// quote returns s as a JSON string.
func quote(s string) json.RawMessage { return appendQuoted(nil, s) }

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
