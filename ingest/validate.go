package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// itemParser validates and normalizes the events of one request.
type itemParser struct {
	lim        limits
	receivedAt time.Time

	// Batch-level fields, shared by the items.
	sentAt                time.Time
	hasSentAt             bool
	context, integrations json.RawMessage // JSON objects, or nil
}

// item validates one event and returns it normalized, or why it is rejected.
// A batch item arrives as raw, with callType ""; a single call arrives
// decoded in fields, with the endpoint's call type. size is the event's size
// as sent.
func (p *itemParser) item(index int, raw json.RawMessage, fields map[string]json.RawMessage, size int, callType string) (event, *Rejection) {
	if fields == nil {
		fields, _ = splitObject(raw) // nil when raw is not an object
	}
	e, err := p.check(fields, size, callType)
	if err != nil {
		return event{}, &Rejection{Index: index, MessageID: sentMessageID(fields), Error: err.Error()}
	}
	return e, nil
}

// check validates an event's fields and normalizes it. Its errors are the
// reasons given to the client.
func (p *itemParser) check(fields map[string]json.RawMessage, size int, callType string) (event, error) {
	if fields == nil {
		return event{}, errors.New("the event must be a JSON object")
	}
	if size > p.lim.maxEventBytes {
		return event{}, fmt.Errorf("the event is %d bytes; the limit is %d", size, p.lim.maxEventBytes)
	}
	typ, err := eventType(fields, callType)
	if err != nil {
		return event{}, err
	}
	ids, err := identifiers(fields, typ)
	if err != nil {
		return event{}, err
	}
	for _, name := range [...]string{"context", "integrations", "properties", "traits"} {
		if v := fields[name]; !isNull(v) && !isObject(v) {
			return event{}, fmt.Errorf("%s must be a JSON object", name)
		}
	}
	times, err := p.timestamps(fields)
	if err != nil {
		return event{}, err
	}

	if ids.messageID == "" {
		ids.messageID = newMessageID()
	}
	n := normalized{fields: fields, typ: typ, ids: ids, times: times}
	payload, err := n.encode(p.context, p.integrations)
	if err != nil {
		return event{}, fmt.Errorf("the event cannot be encoded: %v", err)
	}
	if max := p.lim.maxEventBytes + StampAllowance; len(payload) > max {
		return event{}, fmt.Errorf("the event is %d bytes once normalized (with the batch context merged); the limit is %d",
			len(payload), max)
	}
	return event{MessageID: ids.messageID, Type: typ, Timestamp: times.timestamp, Payload: payload}, nil
}

// eventType returns the call type of an event: the endpoint's, or for a
// batch item its type field.
func eventType(fields map[string]json.RawMessage, callType string) (string, error) {
	if callType != "" {
		return callType, nil
	}
	t, _, err := stringValue(fields["type"])
	switch {
	case err != nil:
		return "", errors.New("type must be a string")
	case t == "":
		return "", errors.New("type is required: one of identify, track, page, screen, group, alias")
	case !isCallType(t):
		return "", fmt.Errorf("type %q is not one of identify, track, page, screen, group, alias", clip(t, 40))
	}
	return t, nil
}

// ids are the identifiers of an event, as strings; "" when absent.
type ids struct {
	messageID, userID, anonymousID, groupID, previousID string
}

// identifiers reads and checks the identifiers of an event of type typ:
// userId or anonymousId always, groupId for group, userId and previousId for
// alias, and a messageId of at most MaxMessageIDLength characters if any.
// Other fields, such as a groupId on a track call, are left as sent.
func identifiers(fields map[string]json.RawMessage, typ string) (ids, error) {
	var v ids
	type field struct {
		name string
		dst  *string
	}
	read := []field{{"messageId", &v.messageID}, {"userId", &v.userID}, {"anonymousId", &v.anonymousID}}
	switch typ {
	case typeGroup:
		read = append(read, field{"groupId", &v.groupID})
	case typeAlias:
		read = append(read, field{"previousId", &v.previousID})
	}
	for _, f := range read {
		id, err := idValue(fields[f.name])
		if err != nil {
			return v, fmt.Errorf("%s must be a string or a number", f.name)
		}
		// Identifiers end up in text columns, which cannot hold a NUL.
		if strings.IndexByte(id, 0) >= 0 {
			return v, fmt.Errorf("%s must not contain NUL characters", f.name)
		}
		*f.dst = id
	}
	if n := utf8.RuneCountInString(v.messageID); n > MaxMessageIDLength {
		return v, fmt.Errorf("messageId is %d characters; the limit is %d", n, MaxMessageIDLength)
	}
	if v.userID == "" && v.anonymousID == "" {
		return v, errors.New("userId or anonymousId is required")
	}
	switch typ {
	case typeTrack:
		name, _, err := stringValue(fields["event"])
		if err != nil {
			return v, errors.New("event must be a string")
		}
		if name == "" {
			return v, errors.New("track requires event, the name of the action")
		}
	case typeGroup:
		if v.groupID == "" {
			return v, errors.New("group requires groupId")
		}
	case typeAlias:
		if v.previousID == "" {
			return v, errors.New("alias requires previousId")
		}
		if v.userID == "" {
			return v, errors.New("alias requires userId")
		}
	}
	return v, nil
}

// times are the timestamps of an event.
type times struct {
	receivedAt, timestamp     time.Time
	originalTimestamp, sentAt *time.Time // nil when the client sent none
}

// timestamps reads the client's times of an event and computes its
// timestamp. originalTimestamp is the client's clock when the call was made:
// the timestamp field the libraries send, or else originalTimestamp itself.
// sentAt is the event's, or else the batch's.
func (p *itemParser) timestamps(fields map[string]json.RawMessage) (times, error) {
	t := times{receivedAt: p.receivedAt}
	original, hasOriginal, err := timeValue(fields["timestamp"])
	if err != nil {
		return t, fmt.Errorf("timestamp: %v", err)
	}
	if !hasOriginal {
		if original, hasOriginal, err = timeValue(fields["originalTimestamp"]); err != nil {
			return t, fmt.Errorf("originalTimestamp: %v", err)
		}
	}
	sentAt, hasSentAt, err := timeValue(fields["sentAt"])
	if err != nil {
		return t, fmt.Errorf("sentAt: %v", err)
	}
	if !hasSentAt {
		sentAt, hasSentAt = p.sentAt, p.hasSentAt
	}
	if t.timestamp, err = correctedTimestamp(p.receivedAt, sentAt, hasSentAt, original, hasOriginal); err != nil {
		return t, err
	}
	if hasOriginal {
		t.originalTimestamp = &original
	}
	if hasSentAt {
		t.sentAt = &sentAt
	}
	return t, nil
}

// correctedTimestamp computes an event's timestamp, correcting the client's
// clock skew: receivedAt − (sentAt − originalTimestamp) when both client
// times are known, originalTimestamp when only it is, receivedAt otherwise.
func correctedTimestamp(receivedAt, sentAt time.Time, hasSentAt bool, original time.Time, hasOriginal bool) (time.Time, error) {
	switch {
	case hasOriginal && hasSentAt:
		skew := sentAt.Sub(original)
		if skew == math.MaxInt64 || skew == math.MinInt64 {
			return time.Time{}, errors.New("sentAt and timestamp are too far apart")
		}
		return receivedAt.Add(-skew), nil
	case hasOriginal:
		return original, nil
	default:
		return receivedAt, nil
	}
}

// sentMessageID is the messageId of an event as sent, for a rejection.
func sentMessageID(fields map[string]json.RawMessage) string {
	id, _ := idValue(fields["messageId"])
	return clip(id, MaxMessageIDLength)
}

// clip shortens s to at most n characters.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// isNull reports whether a field is absent or null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

// isObject reports whether a field holds a JSON object.
func isObject(v json.RawMessage) bool {
	return len(v) > 0 && v[0] == '{'
}

// stringValue reads a string field; absent and null give "", false.
func stringValue(v json.RawMessage) (string, bool, error) {
	if isNull(v) {
		return "", false, nil
	}
	if v[0] != '"' || len(v) < 2 {
		return "", false, errors.New("not a string")
	}
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// idValue reads an identifier, which may be a string or a number; a number
// becomes its decimal string, as JavaScript's String() writes it for the
// usual values. Absent and null give "".
func idValue(v json.RawMessage) (string, error) {
	if isNull(v) {
		return "", nil
	}
	switch c := v[0]; {
	case c == '"':
		s, _, err := stringValue(v)
		return s, err
	case c == '-' || c >= '0' && c <= '9':
		return numberString(string(v)), nil
	}
	return "", errors.New("not a string or a number")
}

// numberString writes a JSON number as an identifier.
func numberString(s string) string {
	if isInteger(s) {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s // out of range: keep the digits as sent
	}
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func isInteger(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// timeValue reads an ISO-8601 date-time field; absent, null and "" give
// false.
func timeValue(v json.RawMessage) (time.Time, bool, error) {
	s, ok, err := stringValue(v)
	if err != nil {
		return time.Time{}, false, errors.New("must be an ISO-8601 date-time string")
	}
	if !ok || s == "" {
		return time.Time{}, false, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// parseTime parses the ISO-8601 forms clients send: RFC 3339 with any
// fraction of a second, a zone offset without a colon, a space for the T, no
// zone (UTC), or a date alone (midnight UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as an ISO-8601 date-time", clip(s, 40))
}
