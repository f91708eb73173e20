package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var receivedAt = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// TestRefusals checks every way a request is refused: the status, the error
// text, and that nothing was stored.
func TestRefusals(t *testing.T) {
	bigProps := obj{"blob": strings.Repeat("x", 33<<10)}
	tooMany := make([]obj, 2501)
	for i := range tooMany {
		tooMany[i] = trackEvent(fmt.Sprintf("m%d", i))
	}
	bigBatch := make([]obj, 20)
	for i := range bigBatch {
		e := trackEvent(fmt.Sprintf("m%d", i))
		e["properties"] = obj{"blob": strings.Repeat("y", 30<<10)}
		bigBatch[i] = e
	}

	cases := []struct {
		name       string
		call       call
		wantStatus int
		wantError  string
	}{
		{"invalid JSON", call{path: "/v1/batch", body: []byte(`{"batch": [`)},
			400, "invalid JSON"},
		{"body not an object", call{path: "/v1/track", body: []byte(`[1,2]`)},
			400, "the body must be a JSON object"},
		{"batch not an array", call{path: "/v1/batch", body: []byte(`{"batch": {"type":"track"}}`)},
			400, "batch must be a JSON array"},
		{"batch missing", call{path: "/v1/batch", body: []byte(`{"sentAt":"2024-06-01T10:00:00Z"}`)},
			400, "batch is required"},
		{"wrong content type", call{path: "/v1/track", body: mustJSON(t, trackEvent("m1")),
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
			415, "Content-Type must be application/json"},
		{"no content type", call{path: "/v1/track", body: mustJSON(t, trackEvent("m1")),
			headers: map[string]string{"Content-Type": ""}},
			415, "Content-Type must be application/json"},
		{"unsupported encoding", call{path: "/v1/track", body: mustJSON(t, trackEvent("m1")),
			headers: map[string]string{"Content-Encoding": "br"}},
			415, "Content-Encoding must be gzip"},
		{"missing write key", call{path: "/v1/track", body: mustJSON(t, trackEvent("m1")),
			headers: map[string]string{"Authorization": ""}},
			401, "missing write key"},
		{"unknown write key in header", call{path: "/v1/track", body: mustJSON(t, trackEvent("m1")),
			headers: map[string]string{"Authorization": basic("wk_secret_nope:")}},
			401, "unknown write key"},
		{"unknown write key in body", call{path: "/v1/track",
			body:    mustJSON(t, obj{"writeKey": "wk_secret_nope", "userId": "u1", "event": "E"}),
			headers: map[string]string{"Authorization": ""}},
			401, "unknown write key"},
		{"malformed basic header", call{path: "/v1/track", body: mustJSON(t, trackEvent("m1")),
			headers: map[string]string{"Authorization": "Basic !!!"}},
			401, "malformed Basic Authorization header"},
		{"batch body over 500 KB", call{path: "/v1/batch", body: mustJSON(t, obj{"batch": bigBatch})},
			413, "request body is larger than 512000 bytes"},
		{"single event over 32 KB", call{path: "/v1/track",
			body: mustJSON(t, obj{"userId": "u1", "event": "E", "properties": bigProps})},
			413, "request body is larger than 32768 bytes"},
		{"batch of 2,501 items", call{path: "/v1/batch", body: mustJSON(t, obj{"batch": tooMany})},
			400, "batch has 2501 events; the limit is 2500"},
		{"invalid batch sentAt", call{path: "/v1/batch",
			body: mustJSON(t, obj{"sentAt": "yesterday", "batch": []obj{trackEvent("m1")}})},
			400, `sentAt: cannot parse "yesterday" as an ISO-8601 date-time`},
		{"batch context not an object", call{path: "/v1/batch",
			body: mustJSON(t, obj{"context": "web", "batch": []obj{trackEvent("m1")}})},
			400, "context must be a JSON object"},
		{"missing userId and anonymousId", call{path: "/v1/identify",
			body: mustJSON(t, obj{"messageId": "m1", "traits": obj{"email": "a@b.c"}})},
			400, "userId or anonymousId is required"},
		{"track without event", call{path: "/v1/track", body: mustJSON(t, obj{"messageId": "m1", "userId": "u1"})},
			400, "track requires event"},
		{"group without groupId", call{path: "/v1/group", body: mustJSON(t, obj{"messageId": "m1", "userId": "u1"})},
			400, "group requires groupId"},
		{"alias without previousId", call{path: "/v1/alias", body: mustJSON(t, obj{"messageId": "m1", "userId": "u1"})},
			400, "alias requires previousId"},
		{"alias without userId", call{path: "/v1/alias", body: mustJSON(t, obj{"messageId": "m1", "anonymousId": "a1", "previousId": "p"})},
			400, "alias requires userId"},
		{"messageId of 101 characters", call{path: "/v1/track",
			body: mustJSON(t, obj{"messageId": strings.Repeat("m", 101), "userId": "u1", "event": "E"})},
			400, "messageId is 101 characters; the limit is 100"},
		{"bad timestamp", call{path: "/v1/track",
			body: mustJSON(t, obj{"messageId": "m1", "userId": "u1", "event": "E", "timestamp": "2024-13-45T99:00:00Z"})},
			400, `timestamp: cannot parse "2024-13-45T99:00:00Z" as an ISO-8601 date-time`},
		{"numeric timestamp", call{path: "/v1/track",
			body: mustJSON(t, obj{"messageId": "m1", "userId": "u1", "event": "E", "timestamp": 1717236000})},
			400, "timestamp: must be an ISO-8601 date-time string"},
		{"userId an object", call{path: "/v1/track",
			body: mustJSON(t, obj{"messageId": "m1", "userId": obj{"id": 1}, "event": "E"})},
			400, "userId must be a string or a number"},
		{"properties not an object", call{path: "/v1/track",
			body: mustJSON(t, obj{"messageId": "m1", "userId": "u1", "event": "E", "properties": []int{1}})},
			400, "properties must be a JSON object"},
		{"unknown batch item type", call{path: "/v1/batch",
			body: mustJSON(t, obj{"batch": []obj{{"type": "purchase", "messageId": "m1", "userId": "u1"}}})},
			400, "1 of 1 events rejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inbox := &fakeInbox{}
			s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
			w, resp := post(t, s, tc.call)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			if resp.Success {
				t.Errorf("success true in a refusal")
			}
			if !strings.Contains(resp.Error, tc.wantError) {
				t.Errorf("error %q, want it to contain %q", resp.Error, tc.wantError)
			}
			if strings.Contains(w.Body.String(), "wk_secret_nope") {
				t.Errorf("the answer echoes the write key: %s", w.Body)
			}
			if tc.wantStatus == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if n := inbox.Calls(); n != 0 {
				t.Errorf("%d Append calls, want none", n)
			}
		})
	}
}

// TestRejectedEvents checks the reason given for each kind of invalid event,
// in a single call and as a batch item.
func TestRejectedEvents(t *testing.T) {
	cases := []struct {
		name  string
		event obj
		want  string
	}{
		{"missing userId and anonymousId", obj{"type": "identify", "messageId": "m1"}, "userId or anonymousId is required"},
		{"track without event", obj{"type": "track", "messageId": "m1", "userId": "u1"}, "track requires event, the name of the action"},
		{"group without groupId", obj{"type": "group", "messageId": "m1", "userId": "u1"}, "group requires groupId"},
		{"alias without previousId", obj{"type": "alias", "messageId": "m1", "userId": "u1"}, "alias requires previousId"},
		{"messageId of 101 characters", obj{"type": "page", "messageId": strings.Repeat("é", 101), "userId": "u1"}, "messageId is 101 characters; the limit is 100"},
		{"bad timestamp", obj{"type": "page", "messageId": "m1", "userId": "u1", "timestamp": "not a time"}, `timestamp: cannot parse "not a time"`},
		{"bad sentAt", obj{"type": "page", "messageId": "m1", "userId": "u1", "sentAt": "2024-06-01T25:00:00Z"}, "sentAt: cannot parse"},
		{"bad originalTimestamp", obj{"type": "page", "messageId": "m1", "userId": "u1", "originalTimestamp": "x"}, "originalTimestamp: cannot parse"},
		{"unknown type", obj{"type": "purchase", "messageId": "m1", "userId": "u1"}, `type "purchase" is not one of identify, track, page, screen, group, alias`},
		{"missing type", obj{"messageId": "m1", "userId": "u1"}, "type is required"},
		{"item over 32 KB", obj{"type": "track", "messageId": "m1", "userId": "u1", "event": "E",
			"properties": obj{"blob": strings.Repeat("x", 32<<10)}}, "the event is 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inbox := &fakeInbox{}
			s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
			w, resp := post(t, s, call{path: "/v1/batch", body: mustJSON(t, obj{"batch": []obj{trackEvent("ok-1"), tc.event}})})
			if w.Code != 400 {
				t.Fatalf("status %d, want 400; %s", w.Code, w.Body)
			}
			if resp.Accepted == nil || *resp.Accepted != 1 || len(resp.Rejected) != 1 {
				t.Fatalf("answer %s, want 1 accepted and 1 rejected", w.Body)
			}
			rej := resp.Rejected[0]
			if rej.Index != 1 || !strings.Contains(rej.Error, tc.want) {
				t.Errorf("rejection %+v, want index 1 and error containing %q", rej, tc.want)
			}
			if stored := inbox.Stored(); len(stored) != 1 || stored[0].MessageID != "ok-1" {
				t.Errorf("stored %d events, want just ok-1", len(stored))
			}
		})
	}
}

// TestMixedBatch checks that a batch with invalid items keeps exactly its
// valid ones and names each invalid one.
func TestMixedBatch(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
	batch := []any{
		trackEvent("good-0"),
		obj{"type": "track", "messageId": "bad-1", "userId": "u1"}, // no event
		obj{"type": "identify", "messageId": "good-2", "anonymousId": "a2", "traits": obj{"plan": "pro"}},
		"not an object",
		obj{"type": "group", "messageId": "bad-4", "userId": "u1"}, // no groupId
		obj{"type": "alias", "messageId": "good-5", "userId": "u1", "previousId": "a2"},
	}
	w, resp := post(t, s, call{path: "/v1/batch", body: mustJSON(t, obj{"batch": batch})})
	if w.Code != 400 {
		t.Fatalf("status %d, want 400", w.Code)
	}
	want := Response{
		Error:    "3 of 6 events rejected; the other 3 were accepted",
		Accepted: new(3),
		Rejected: []Rejection{
			{Index: 1, MessageID: "bad-1", Error: "track requires event, the name of the action"},
			{Index: 3, Error: "the event must be a JSON object"},
			{Index: 4, MessageID: "bad-4", Error: "group requires groupId"},
		},
	}
	if got, want := mustJSON(t, resp), mustJSON(t, want); !bytes.Equal(got, want) {
		t.Errorf("answer\n%s\nwant\n%s", got, want)
	}
	var ids []string
	for _, e := range inbox.Stored() {
		ids = append(ids, e.MessageID)
	}
	if !slices.Equal(ids, []string{"good-0", "good-2", "good-5"}) {
		t.Errorf("stored %v", ids)
	}
	if st := s.Stats(); st.Rejected != 3 || st.Events != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestStoredEvent checks the normalized payload and the inbox fields of
// each call type.
func TestStoredEvent(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt.Add(123456789))}, inbox)
	body := obj{
		"writeKey": "ignored because the header has one",
		"sentAt":   "2024-06-01T10:00:10Z",
		"batch": []obj{
			{"type": "identify", "messageId": "m-identify", "userId": 42, "anonymousId": "a1",
				"traits": obj{"email": "ada@example.com", "html": "<b>&</b>"}, "timestamp": "2024-06-01T10:00:00Z",
				"writeKey": testKey, "_metadata": obj{"bundled": []string{"Segment.io"}}},
			{"type": "track", "messageId": "m-track", "userId": "u1", "event": "Order Completed",
				"properties": obj{"revenue": 1e-7, "big": json.Number("12345678901234567890")}},
			{"type": "page", "messageId": "m-page", "anonymousId": "a1", "name": "Home", "category": "Docs"},
			{"type": "screen", "messageId": "m-screen", "userId": "u1", "name": "Main"},
			{"type": "group", "messageId": "m-group", "userId": "u1", "groupId": 7, "traits": obj{"name": "Acme"}},
			{"type": "alias", "messageId": "m-alias", "userId": "u1", "previousId": 99.5},
		},
	}
	// Sent unescaped, as JavaScript's JSON.stringify writes it.
	raw := bytes.ReplaceAll(mustJSON(t, body), []byte(`\u003cb\u003e\u0026\u003c/b\u003e`), []byte(`<b>&</b>`))
	w, _ := post(t, s, call{path: "/v1/b", body: raw})
	if w.Code != 200 || w.Body.String() != "{\"success\":true}\n" {
		t.Fatalf("answer %d %s", w.Code, w.Body)
	}
	stored := inbox.Stored()
	if len(stored) != 6 {
		t.Fatalf("stored %d events", len(stored))
	}
	for _, e := range stored {
		if e.SpaceID != "space_a" || e.SourceID != "src_1" || !e.ReceivedAt.Equal(receivedAt.Add(123*time.Millisecond)) {
			t.Errorf("%s: space %q source %q receivedAt %v", e.MessageID, e.SpaceID, e.SourceID, e.ReceivedAt)
		}
		if p := payload(t, e); p["type"] != e.Type || p["messageId"] != e.MessageID || p["writeKey"] != nil {
			t.Errorf("%s: payload type %v messageId %v writeKey %v", e.MessageID, p["type"], p["messageId"], p["writeKey"])
		}
	}
	want := `{"_metadata":{"bundled":["Segment.io"]},"anonymousId":"a1","messageId":"m-identify",` +
		`"originalTimestamp":"2024-06-01T10:00:00Z","receivedAt":"2024-06-01T12:00:00.123Z",` +
		`"sentAt":"2024-06-01T10:00:10Z","timestamp":"2024-06-01T11:59:50.123Z",` +
		`"traits":{"email":"ada@example.com","html":"<b>&</b>"},"type":"identify","userId":"42"}`
	if got := string(stored[0].Payload); got != want {
		t.Errorf("identify payload\n%s\nwant\n%s", got, want)
	}
	if got := string(stored[1].Payload); !strings.Contains(got, `"properties":{"big":12345678901234567890,"revenue":1e-7}`) {
		t.Errorf("track properties changed: %s", got)
	}
	if p := payload(t, stored[4]); p["groupId"] != "7" {
		t.Errorf("groupId %v, want \"7\"", p["groupId"])
	}
	if p := payload(t, stored[5]); p["previousId"] != "99.5" {
		t.Errorf("previousId %v, want \"99.5\"", p["previousId"])
	}
	if p := payload(t, stored[2]); p["userId"] != nil || p["name"] != "Home" || p["category"] != "Docs" {
		t.Errorf("page payload %v", p)
	}
	// Events without a timestamp of their own take receivedAt.
	if !stored[3].Timestamp.Equal(stored[3].ReceivedAt) {
		t.Errorf("screen timestamp %v, want receivedAt", stored[3].Timestamp)
	}
}

// TestBatchMerge checks that a batch's context and integrations are merged
// into each item, recursively, the item's keys winning.
func TestBatchMerge(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
	body := obj{
		"context":      obj{"library": obj{"name": "analytics-go", "version": "3.0"}, "ip": "10.0.0.1", "locale": "en-US"},
		"integrations": obj{"All": true, "Mixpanel": obj{"region": "us", "project": "p1"}},
		"batch": []obj{
			{"type": "track", "messageId": "m1", "userId": "u1", "event": "E",
				"context":      obj{"library": obj{"version": "3.1"}, "locale": "fr-FR", "page": obj{"path": "/"}},
				"integrations": obj{"Mixpanel": obj{"region": "eu"}, "Amplitude": false}},
			{"type": "track", "messageId": "m2", "userId": "u1", "event": "E"},
			{"type": "track", "messageId": "m3", "userId": "u1", "event": "E", "context": nil},
		},
	}
	if w, _ := post(t, s, call{path: "/v1/batch", body: mustJSON(t, body)}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	stored := inbox.Stored()
	wantCtx := []string{
		`{"ip":"10.0.0.1","library":{"name":"analytics-go","version":"3.1"},"locale":"fr-FR","page":{"path":"/"}}`,
		`{"ip":"10.0.0.1","library":{"name":"analytics-go","version":"3.0"},"locale":"en-US"}`,
		`{"ip":"10.0.0.1","library":{"name":"analytics-go","version":"3.0"},"locale":"en-US"}`,
	}
	wantInt := []string{
		`{"All":true,"Amplitude":false,"Mixpanel":{"project":"p1","region":"eu"}}`,
		`{"All":true,"Mixpanel":{"project":"p1","region":"us"}}`,
		`{"All":true,"Mixpanel":{"project":"p1","region":"us"}}`,
	}
	for i, e := range stored {
		var p map[string]json.RawMessage
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if string(p["context"]) != wantCtx[i] {
			t.Errorf("%s context\n%s\nwant\n%s", e.MessageID, p["context"], wantCtx[i])
		}
		if string(p["integrations"]) != wantInt[i] {
			t.Errorf("%s integrations\n%s\nwant\n%s", e.MessageID, p["integrations"], wantInt[i])
		}
	}
}

// TestMessageIDAssigned checks that events without a messageId get a unique
// one, stored in the payload and the inbox record alike.
func TestMessageIDAssigned(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
	body := obj{"batch": []obj{
		{"type": "track", "userId": "u1", "event": "E"},
		{"type": "track", "userId": "u1", "event": "E", "messageId": ""},
		{"type": "track", "userId": "u1", "event": "E", "messageId": nil},
		{"type": "track", "userId": "u1", "event": "E", "messageId": 12345},
	}}
	if w, _ := post(t, s, call{path: "/v1/batch", body: mustJSON(t, body)}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	stored := inbox.Stored()
	if len(stored) != 4 {
		t.Fatalf("stored %d events, want 4", len(stored))
	}
	uuid := regexp.MustCompile(`^api-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for _, e := range stored[:3] {
		if !uuid.MatchString(e.MessageID) || seen[e.MessageID] {
			t.Errorf("assigned messageId %q: not a fresh api-UUIDv4", e.MessageID)
		}
		seen[e.MessageID] = true
		if p := payload(t, e); p["messageId"] != e.MessageID {
			t.Errorf("payload messageId %v, record %q", p["messageId"], e.MessageID)
		}
	}
	if stored[3].MessageID != "12345" {
		t.Errorf("numeric messageId stored as %q", stored[3].MessageID)
	}
}

// TestTimestamps checks the clock-skew correction and its fallbacks.
func TestTimestamps(t *testing.T) {
	const recv = "2024-06-01T12:00:00Z"
	cases := []struct {
		name                 string
		batchSentAt          any
		item                 obj
		wantTimestamp        string
		wantOriginal, wantSt any // nil when absent from the payload
	}{
		{"skew corrected", nil,
			obj{"timestamp": "2024-06-01T10:00:00Z", "sentAt": "2024-06-01T10:00:05Z"},
			"2024-06-01T11:59:55Z", "2024-06-01T10:00:00Z", "2024-06-01T10:00:05Z"},
		{"client clock behind the server", nil,
			obj{"timestamp": "2024-06-01T14:00:00.250+02:00", "sentAt": "2024-06-01T12:00:01.000Z"},
			"2024-06-01T11:59:59.25Z", "2024-06-01T12:00:00.25Z", "2024-06-01T12:00:01Z"},
		{"batch sentAt applies", "2024-06-01T10:00:30Z",
			obj{"timestamp": "2024-06-01T10:00:00Z"},
			"2024-06-01T11:59:30Z", "2024-06-01T10:00:00Z", "2024-06-01T10:00:30Z"},
		{"item sentAt wins over the batch's", "2024-06-01T10:00:30Z",
			obj{"timestamp": "2024-06-01T10:00:00Z", "sentAt": "2024-06-01T10:00:01Z"},
			"2024-06-01T11:59:59Z", "2024-06-01T10:00:00Z", "2024-06-01T10:00:01Z"},
		{"originalTimestamp field", nil,
			obj{"originalTimestamp": "2024-06-01T10:00:00Z", "sentAt": "2024-06-01T10:01:00Z"},
			"2024-06-01T11:59:00Z", "2024-06-01T10:00:00Z", "2024-06-01T10:01:00Z"},
		{"timestamp without sentAt (historical import)", nil,
			obj{"timestamp": "2019-03-04T05:06:07.891Z"},
			"2019-03-04T05:06:07.891Z", "2019-03-04T05:06:07.891Z", nil},
		{"date only, no zone", nil,
			obj{"timestamp": "2019-03-04"},
			"2019-03-04T00:00:00Z", "2019-03-04T00:00:00Z", nil},
		{"sentAt only", nil,
			obj{"sentAt": "2024-06-01T10:00:05Z"},
			recv, nil, "2024-06-01T10:00:05Z"},
		{"neither", nil, obj{}, recv, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inbox := &fakeInbox{}
			s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
			item := obj{"type": "track", "messageId": "m1", "userId": "u1", "event": "E"}
			for k, v := range tc.item {
				item[k] = v
			}
			body := obj{"batch": []obj{item}}
			if tc.batchSentAt != nil {
				body["sentAt"] = tc.batchSentAt
			}
			if w, _ := post(t, s, call{path: "/v1/batch", body: mustJSON(t, body)}); w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			e := inbox.Stored()[0]
			p := payload(t, e)
			if p["timestamp"] != tc.wantTimestamp || e.Timestamp.Format(time.RFC3339Nano) != tc.wantTimestamp {
				t.Errorf("timestamp %v (record %v), want %s", p["timestamp"], e.Timestamp, tc.wantTimestamp)
			}
			if p["originalTimestamp"] != tc.wantOriginal || p["sentAt"] != tc.wantSt || p["receivedAt"] != recv {
				t.Errorf("originalTimestamp %v sentAt %v receivedAt %v", p["originalTimestamp"], p["sentAt"], p["receivedAt"])
			}
		})
	}
}

// TestWriteKeys checks the ways a write key can be sent.
func TestWriteKeys(t *testing.T) {
	event := func(extra obj) []byte {
		e := obj{"messageId": "m1", "userId": "u1", "event": "E"}
		for k, v := range extra {
			e[k] = v
		}
		return mustJSON(t, e)
	}
	cases := []struct {
		name       string
		auth       string
		body       []byte
		wantStatus int
		wantSource string
	}{
		{"basic with trailing colon", basic(testKey + ":"), event(nil), 200, "src_1"},
		{"basic without colon", basic(testKey), event(nil), 200, "src_1"},
		{"basic without padding", "Basic " + strings.TrimRight(basic(otherKey + ":")[6:], "="), event(nil), 200, "src_2"},
		{"body writeKey", "", event(obj{"writeKey": otherKey}), 200, "src_2"},
		{"bearer token and body writeKey", "Bearer abc.def", event(obj{"writeKey": otherKey}), 200, "src_2"},
		{"basic with empty user and body writeKey", basic(":"), event(obj{"writeKey": otherKey}), 200, "src_2"},
		{"header wins over body", basic(testKey + ":"), event(obj{"writeKey": "wk_unknown"}), 200, "src_1"},
		{"unknown header key, valid body key", basic("wk_unknown:"), event(obj{"writeKey": testKey}), 401, ""},
		{"body writeKey not a string", "", event(obj{"writeKey": 5}), 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inbox := &fakeInbox{}
			s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
			w, _ := post(t, s, call{path: "/v1/track", body: tc.body, headers: map[string]string{"Authorization": tc.auth}})
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			stored := inbox.Stored()
			if tc.wantSource == "" {
				if len(stored) != 0 {
					t.Errorf("stored %d events", len(stored))
				}
				return
			}
			if len(stored) != 1 || stored[0].SourceID != tc.wantSource {
				t.Fatalf("stored %+v, want one event of %s", stored, tc.wantSource)
			}
			if strings.Contains(string(stored[0].Payload), "writeKey") {
				t.Errorf("payload keeps the writeKey: %s", stored[0].Payload)
			}
		})
	}
}

// TestGzip checks gzip bodies, the limit on their decompressed size, and a
// gzip bomb.
func TestGzip(t *testing.T) {
	compress := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	gz := map[string]string{"Content-Encoding": "gzip"}
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)

	batch := obj{"batch": []obj{trackEvent("gz-1"), trackEvent("gz-2")}}
	if w, _ := post(t, s, call{path: "/v1/batch", body: compress(mustJSON(t, batch)), headers: gz}); w.Code != 200 {
		t.Fatalf("gzip batch: status %d: %s", w.Code, w.Body)
	}
	if n := len(inbox.Stored()); n != 2 {
		t.Fatalf("stored %d events, want 2", n)
	}

	// A gzip bomb: 256 gzip members of 1 MB of zeros each, about 260 KB
	// that decompress to 256 MB. Refused as too large, without
	// decompressing it all.
	bomb := bytes.Repeat(compress(make([]byte, 1<<20)), 256)
	start := time.Now()
	w, resp := post(t, s, call{path: "/v1/batch", body: bomb, headers: gz})
	if w.Code != 413 || !strings.Contains(resp.Error, "larger than 512000 bytes") {
		t.Errorf("gzip bomb: status %d %q", w.Code, resp.Error)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gzip bomb took %v", d)
	}

	// A small body that decompresses to just over a single call's limit.
	big := mustJSON(t, obj{"userId": "u1", "event": "E", "properties": obj{"s": strings.Repeat("a", 32<<10)}})
	if w, _ := post(t, s, call{path: "/v1/track", body: compress(big), headers: gz}); w.Code != 413 {
		t.Errorf("over-limit gzip track: status %d", w.Code)
	}

	w, resp = post(t, s, call{path: "/v1/batch", body: []byte("not gzip at all"), headers: gz})
	if w.Code != 400 || !strings.Contains(resp.Error, "not valid gzip") {
		t.Errorf("invalid gzip: status %d %q", w.Code, resp.Error)
	}
	if n := len(inbox.Stored()); n != 2 {
		t.Errorf("stored %d events, want still 2", n)
	}
}

// TestDuplicates checks that a resent event answers 200 and is counted, not
// stored again, and that dedupe is per source.
func TestDuplicates(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt), DedupeWindow: time.Hour}, inbox)
	body := mustJSON(t, obj{"batch": []obj{trackEvent("dup-1"), trackEvent("dup-1"), trackEvent("dup-2")}})
	for range 2 {
		if w, _ := post(t, s, call{path: "/v1/batch", body: body}); w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	// The same messageId from another source is a different event.
	if w, _ := post(t, s, call{path: "/v1/batch", body: body, headers: map[string]string{"Authorization": basic(otherKey)}}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if n := len(inbox.Stored()); n != 4 {
		t.Errorf("stored %d events, want 4 (dup-1 and dup-2 once per source)", n)
	}
	if st := s.Stats(); st.Duplicates != 5 || st.Events != 9 {
		t.Errorf("stats %+v, want 5 duplicates of 9 events", st)
	}
}

// TestAnalyticsJSRequests checks the requests analytics.js sends: text/plain
// bodies with the write key inside, to the short paths, and preflights.
func TestAnalyticsJSRequests(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{Now: fixedClock(receivedAt)}, inbox)
	noAuth := func(extra ...string) map[string]string {
		h := map[string]string{"Authorization": "", "Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example"}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	calls := map[string]obj{
		"/v1/t": {"event": "Viewed", "properties": obj{}},
		"/v1/i": {"traits": obj{"email": "a@example.com"}},
		"/v1/p": {"name": "Home", "properties": obj{"path": "/"}},
		"/v1/s": {"name": "Home"},
		"/v1/g": {"groupId": "g1"},
		"/v1/a": {"userId": "u9", "previousId": "anon-1"},
	}
	for path, fields := range calls {
		ev := obj{"anonymousId": "anon-1", "messageId": "ajs-next-" + path[4:], "writeKey": testKey,
			"sentAt": "2024-06-01T11:59:59.900Z", "timestamp": "2024-06-01T11:59:59.800Z",
			"context":   obj{"library": obj{"name": "analytics.js", "version": "next-1.70.0"}},
			"_metadata": obj{"bundled": []string{"Segment.io"}, "unbundled": []string{}}}
		for k, v := range fields {
			ev[k] = v
		}
		w, _ := post(t, s, call{path: path, body: mustJSON(t, ev), headers: noAuth()})
		if w.Code != 200 {
			t.Errorf("%s: status %d: %s", path, w.Code, w.Body)
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://shop.example" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", path, got)
		}
	}
	// Batching delivery: /v1/b, sentAt only at the top, writeKey in each item.
	b := obj{"writeKey": testKey, "sentAt": "2024-06-01T11:59:59.900Z", "batch": []obj{
		{"type": "track", "event": "A", "anonymousId": "anon-1", "messageId": "ajs-b-1", "writeKey": testKey, "timestamp": "2024-06-01T11:59:59.000Z"},
	}}
	if w, _ := post(t, s, call{path: "/v1/b", body: mustJSON(t, b), headers: noAuth()}); w.Code != 200 {
		t.Errorf("/v1/b: status %d: %s", w.Code, w.Body)
	}
	types := map[string]string{}
	for _, e := range inbox.Stored() {
		types[e.MessageID] = e.Type
		if e.MessageID == "ajs-next-t" && !e.Timestamp.Equal(receivedAt.Add(-100*time.Millisecond)) {
			t.Errorf("track timestamp %v", e.Timestamp)
		}
	}
	want := map[string]string{"ajs-next-t": "track", "ajs-next-i": "identify", "ajs-next-p": "page",
		"ajs-next-s": "screen", "ajs-next-g": "group", "ajs-next-a": "alias", "ajs-b-1": "track"}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("stored types %v, want %v", types, want)
	}

	r := httptest.NewRequest(http.MethodOptions, "/v1/t", nil)
	r.Header.Set("Origin", "https://shop.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	h := w.Header()
	if w.Code != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		h.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", w.Code, h)
	}
}

// TestRoutes checks unknown paths and methods.
func TestRoutes(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeInbox{})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/v1/nope", 404},
		{"POST", "/v2/track", 404},
		{"GET", "/v1/track", 405},
		{"OPTIONS", "/v1/batch", 204},
		{"POST", "/v1/track/", 401}, // routed; no write key
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
	}
}

// TestEmptyBatch checks that an empty batch is a no-op success.
func TestEmptyBatch(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{}, inbox)
	if w, _ := post(t, s, call{path: "/v1/batch", body: []byte(`{"batch":[]}`)}); w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
	if inbox.Calls() != 0 {
		t.Errorf("Append called for an empty batch")
	}
}

// TestSourceCache checks that a write key is looked up once per TTL.
func TestSourceCache(t *testing.T) {
	var lookups int
	src := sourcesFunc(func(key string) error { lookups++; return nil })
	now := receivedAt
	c := newSourceCache(src, time.Minute, func() time.Time { return now })
	for range 3 {
		if _, err := c.lookup(t.Context(), testKey); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Minute)
	if _, err := c.lookup(t.Context(), testKey); err != nil {
		t.Fatal(err)
	}
	if lookups != 2 {
		t.Errorf("%d lookups, want 2", lookups)
	}
}

// TestDeepMerge checks that deeply nested contexts merge in bounded time.
func TestDeepMerge(t *testing.T) {
	nest := func(depth int, leaf string) string {
		return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat(`}`, depth)
	}
	items := make([]string, 15)
	for i := range items {
		items[i] = fmt.Sprintf(`{"type":"track","messageId":"m%d","userId":"u","event":"E","context":%s}`, i, nest(5000, `{"x":1}`))
	}
	body := `{"context":` + nest(6000, `{"y":2}`) + `,"batch":[` + strings.Join(items, ",") + `]}`
	start := time.Now()
	_, p := parseRequest([]byte(body), routeBatch, receivedAt, limits{DefaultMaxEventBytes, DefaultMaxBatchBytes, DefaultMaxBatchEvents})
	if p.err != nil || len(p.events) != 15 {
		t.Fatalf("err %v, %d events, rejected %v", p.err, len(p.events), p.rejected)
	}
	// Merging level by level without a bound would take minutes; bounded,
	// it takes milliseconds (seconds under the race detector).
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("parsing took %v", d)
	}
	// Near the top the two are merged.
	var c struct{ Context json.RawMessage }
	if err := json.Unmarshal(p.events[0].Payload, &c); err != nil {
		t.Fatal(err)
	}
	if want := nest(3, `{"x":1}`); !strings.Contains(string(c.Context), want[:20]) {
		t.Errorf("context %.60s…", c.Context)
	}
}

// TestLogs checks that logs carry counts and codes, never write keys, event
// bodies or trait values.
func TestLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inbox := &fakeInbox{}
	s := NewServer(Config{Now: fixedClock(receivedAt)}, testSources(), inbox, logger)
	s.Start()
	defer s.Close(t.Context())

	secret := obj{"type": "identify", "messageId": "m-secret", "userId": "u1", "traits": obj{"email": "ada-secret@example.com"}}
	bad := obj{"type": "identify", "messageId": "m-bad", "traits": obj{"email": "grace-secret@example.com"}, "timestamp": "secret-time"}
	post(t, s, call{path: "/v1/batch", body: mustJSON(t, obj{"batch": []obj{secret, bad}})})
	post(t, s, call{path: "/v1/batch", body: mustJSON(t, obj{"batch": []obj{secret}})})
	post(t, s, call{path: "/v1/track", body: []byte(`{"userId":"u1","event":"secret-event","writeKey":"wk_secret_1"}`),
		headers: map[string]string{"Authorization": ""}})
	post(t, s, call{path: "/v1/track", body: []byte(`{"secret-json`), headers: map[string]string{"Authorization": basic("wk_secret_2:")}})
	post(t, s, call{path: "/v1/track", body: []byte(`{"secret-json`)})

	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	if strings.Contains(logs, "secret") || strings.Contains(logs, testKey) {
		t.Errorf("logs leak request content:\n%s", logs)
	}
	for _, want := range []string{`"reason":"rejected_events"`, `"rejected":1`, `"duplicates":1`,
		`"reason":"unknown_write_key"`, `"reason":"invalid_request"`, `"source_id":"src_1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// lockedWriter serializes writes to a buffer.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
