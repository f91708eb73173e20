package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSeeds are realistic bodies: what analytics-node, analytics.js and
// the server libraries send, and near misses.
func fuzzSeeds() []struct {
	body  string
	route uint8
} {
	return []struct {
		body  string
		route uint8
	}{
		// analytics-node 3.x: /v1/batch with Basic auth and writeKey.
		{`{"batch":[{"timestamp":"2024-06-01T10:00:00.000Z","type":"identify","userId":"u1","traits":{"email":"a@example.com","plan":"pro"},` +
			`"integrations":{},"context":{"library":{"name":"@segment/analytics-node","version":"3.1.0"}},` +
			`"messageId":"node-next-1717236000000-3f0e3b5a-0c1f-4bd2-9a55-0d8e2c0a1b2c","_metadata":{"nodeVersion":"v20.20.2","jsRuntime":"node"}},` +
			`{"timestamp":"2024-06-01T10:00:00.100Z","type":"track","event":"Order Completed","properties":{"revenue":42.5,"items":[{"sku":"a"}]},` +
			`"userId":"u1","integrations":{},"context":{"library":{"name":"@segment/analytics-node","version":"3.1.0"}},"messageId":"node-next-2"},` +
			`{"type":"alias","userId":"u1","previousId":"anon-1","timestamp":"2024-06-01T10:00:00.200Z","messageId":"node-next-3","context":{}}],` +
			`"writeKey":"wk_test_1","sentAt":"2024-06-01T10:00:01.000Z"}`, 0},
		// analytics.js batching: writeKey in every item, sentAt at the top.
		{`{"writeKey":"wk","sentAt":"2024-06-01T10:00:01.000Z","batch":[{"type":"page","name":"Home","properties":{"path":"/"},` +
			`"anonymousId":"0f9e","messageId":"ajs-next-1717236000000-abc","writeKey":"wk","timestamp":"2024-06-01T10:00:00.000Z",` +
			`"context":{"page":{"path":"/","url":"https://x.example/"},"userAgent":"Mozilla/5.0","locale":"en-US",` +
			`"library":{"name":"analytics.js","version":"npm:next-1.70.0"}},"_metadata":{"bundled":["Segment.io"],"unbundled":[],"bundledIds":[]}}]}`, 0},
		// A server library batch with shared context and integrations.
		{`{"context":{"library":{"name":"analytics-go","version":"3.3.0"},"ip":"10.0.0.1"},"integrations":{"All":true,"Mixpanel":{"r":"us"}},` +
			`"batch":[{"type":"group","groupId":7,"userId":12,"traits":{"name":"Acme"},"context":{"library":{"version":"3.4"}},"integrations":{"Mixpanel":false}},` +
			`{"type":"screen","anonymousId":"a","name":"Main","originalTimestamp":"2024-06-01 10:00:00","sentAt":"2024-06-01T10:00:00+0200"}]}`, 0},
		// Invalid items next to valid ones.
		{`{"batch":[{"type":"track","userId":"u"},{"type":"purchase","userId":"u"},{"type":"group","anonymousId":"a"},` +
			`"x",null,{"type":"alias","userId":"u"},{"type":"identify","messageId":"` + strings.Repeat("m", 101) + `","userId":"u"},` +
			`{"type":"identify","userId":"u","timestamp":"yesterday"},{"type":"identify","userId":{"id":1}},{"type":"track","userId":"u","event":"E","properties":[1]}]}`, 0},
		{`{"batch":[]}`, 0},
		{`{"batch":{}}`, 0},
		{`[]`, 0},
		{`{"batch":[{"type":"identify","userId":"\u0000","messageId":"\u00e9\ud83d\ude00"}]}`, 0},
		{"{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"\xff\xfe\"}]}", 0},
		{`{"batch":[{"type":"track","userId":1e400,"event":"E","timestamp":"0001-01-01T00:00:00Z","sentAt":"9999-12-31T23:59:59Z"}]}`, 0},
		// analytics.js standard delivery: one call per request, text/plain.
		{`{"type":"track","event":"Viewed","properties":{},"anonymousId":"a1","messageId":"ajs-next-1","writeKey":"wk",` +
			`"sentAt":"2024-06-01T10:00:01.000Z","timestamp":"2024-06-01T10:00:00.000Z","context":{"library":{"name":"analytics.js"}}}`, 2},
		{`{"userId":"u1","traits":{"email":"a@example.com"},"timestamp":"2024-06-01T10:00:00Z"}`, 1},
		{`{"anonymousId":"a","name":"Home","category":"Docs","properties":{"url":"https://x"}}`, 3},
		{`{"userId":"u","name":"Main"}`, 4},
		{`{"userId":"u","groupId":"g","traits":{"name":"Acme"}}`, 5},
		{`{"userId":"u","previousId":"a"}`, 6},
		{`{"userId":"u","event":"E","writeKey":5}`, 2},
		{`{"userId":"u","event":""}`, 2},
		{`null`, 1},
		{`{"batch":[` + strings.Repeat(`{"type":"track","userId":"u","event":"E"},`, 20) + `{"type":"track","anonymousId":"a","event":"F"}]}`, 0},
	}
}

// FuzzParseBatch checks that parsing any body never panics, and that what it
// accepts keeps the API's promises: a messageId of at most 100 characters, a
// valid type, userId or anonymousId, the fields each type requires, a size
// within the limit, and valid JSON; and that every rejection gives a reason.
func FuzzParseBatch(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s.body), s.route)
	}
	lim := limits{maxEventBytes: DefaultMaxEventBytes, maxBatchBytes: DefaultMaxBatchBytes, maxBatchEvents: DefaultMaxBatchEvents}
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	routes := [...]route{routeBatch, typeIdentify, typeTrack, typePage, typeScreen, typeGroup, typeAlias}
	f.Fuzz(func(t *testing.T, body []byte, r uint8) {
		rt := routes[int(r)%len(routes)]
		checkSplit(t, body)
		req, p := parseRequest(body, rt, now, lim)
		if p.err != nil {
			if p.err.status < 400 || p.err.status > 499 || p.err.msg == "" {
				t.Fatalf("request error %d %q", p.err.status, p.err.msg)
			}
			if len(p.events)+len(p.rejected) > 0 {
				t.Fatalf("a refused request has %d events and %d rejections", len(p.events), len(p.rejected))
			}
			return
		}
		n := 1
		if rt == routeBatch {
			n = len(req.items)
		}
		if got := len(p.events) + len(p.rejected); got != n {
			t.Fatalf("%d events + rejections for %d items", got, n)
		}
		last := -1
		for _, rej := range p.rejected {
			if rej.Index <= last || rej.Index >= n || rej.Error == "" {
				t.Fatalf("rejection %+v after index %d of %d", rej, last, n)
			}
			if utf8.RuneCountInString(rej.MessageID) > MaxMessageIDLength+1 {
				t.Fatalf("rejection echoes a messageId of %d characters", utf8.RuneCountInString(rej.MessageID))
			}
			last = rej.Index
		}
		for _, e := range p.events {
			checkAccepted(t, e, now, lim)
		}
	})
}

// checkAccepted checks the promises an accepted event keeps.
func checkAccepted(t *testing.T, e event, receivedAt time.Time, lim limits) {
	t.Helper()
	if n := utf8.RuneCountInString(e.MessageID); n == 0 || n > MaxMessageIDLength {
		t.Fatalf("messageId of %d characters", n)
	}
	if !isCallType(e.Type) {
		t.Fatalf("type %q", e.Type)
	}
	if len(e.Payload) > lim.maxEventBytes+StampAllowance {
		t.Fatalf("payload of %d bytes", len(e.Payload))
	}
	if !utf8.Valid(e.Payload) {
		t.Fatalf("payload is not UTF-8: %q", e.Payload)
	}
	var p map[string]any
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatalf("payload is not a JSON object: %v: %s", err, e.Payload)
	}
	str := func(k string) string {
		v, ok := p[k]
		if !ok {
			return ""
		}
		s, isString := v.(string)
		if !isString || s == "" {
			t.Fatalf("%s is %#v, want a non-empty string or nothing", k, v)
		}
		return s
	}
	if str("type") != e.Type || str("messageId") != e.MessageID {
		t.Fatalf("payload type %v messageId %v, record %s %s", p["type"], p["messageId"], e.Type, e.MessageID)
	}
	if str("userId") == "" && str("anonymousId") == "" {
		t.Fatalf("neither userId nor anonymousId: %s", e.Payload)
	}
	switch e.Type {
	case typeTrack:
		if s, ok := p["event"].(string); !ok || s == "" {
			t.Fatalf("track without event: %s", e.Payload)
		}
	case typeGroup:
		str("groupId")
	case typeAlias:
		if str("userId") == "" || str("previousId") == "" {
			t.Fatalf("alias without userId or previousId: %s", e.Payload)
		}
	}
	if _, ok := p["writeKey"]; ok {
		t.Fatalf("payload keeps writeKey")
	}
	if str("receivedAt") != receivedAt.Format(time.RFC3339Nano) || str("timestamp") != e.Timestamp.Format(time.RFC3339Nano) {
		t.Fatalf("receivedAt %v timestamp %v (record %v)", p["receivedAt"], p["timestamp"], e.Timestamp)
	}
	for _, k := range []string{"context", "integrations", "properties", "traits"} {
		if v, ok := p[k]; ok && v != nil {
			if _, isObj := v.(map[string]any); !isObj {
				t.Fatalf("%s is %T", k, v)
			}
		}
	}
}

// checkSplit checks splitObject and splitArray against encoding/json on
// valid JSON.
func checkSplit(t *testing.T, body []byte) {
	if !json.Valid(body) {
		return
	}
	var obj map[string]json.RawMessage
	objErr := json.Unmarshal(body, &obj)
	fields, ok := splitObject(body)
	if ok != (objErr == nil && obj != nil) {
		t.Fatalf("splitObject ok=%v, json.Unmarshal err=%v", ok, objErr)
	}
	if ok {
		if len(fields) != len(obj) {
			t.Fatalf("splitObject found %d keys, json.Unmarshal %d", len(fields), len(obj))
		}
		for k, v := range obj {
			if got, want := appendCompact(nil, fields[k]), appendCompact(nil, v); string(got) != string(want) {
				t.Fatalf("key %q: splitObject %s, json.Unmarshal %s", k, got, want)
			}
		}
	}
	var arr []json.RawMessage
	arrErr := json.Unmarshal(body, &arr)
	elems, ok := splitArray(body)
	if ok != (arrErr == nil && arr != nil) {
		t.Fatalf("splitArray ok=%v, json.Unmarshal err=%v", ok, arrErr)
	}
	if ok {
		if len(elems) != len(arr) {
			t.Fatalf("splitArray found %d elements, json.Unmarshal %d", len(elems), len(arr))
		}
		for i := range arr {
			if got, want := appendCompact(nil, elems[i]), appendCompact(nil, arr[i]); string(got) != string(want) {
				t.Fatalf("element %d: splitArray %s, json.Unmarshal %s", i, got, want)
			}
		}
	}
}
