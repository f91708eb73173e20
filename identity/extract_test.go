package identity

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	ev, err := ParseEvent([]byte(`{
		"type": "track", "messageId": "m1", "event": "Order Completed", "name": "ignored",
		"userId": 12345678901234567890, "anonymousId": "a1", "groupId": 1e3, "previousId": null,
		"traits": {"email": "j@x"}, "properties": {"total": 10.50, "big": 12345678901234567890},
		"context": {"device": {"type": "ios"}}, "integrations": {"All": true},
		"timestamp": "2025-03-01T12:00:00.123456789Z", "receivedAt": "2025-03-01T12:00:01Z"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		Type: "track", MessageID: "m1", Event: "Order Completed",
		UserID: "12345678901234567890", AnonymousID: "a1", GroupID: "1000",
		Traits:       map[string]any{"email": "j@x"},
		Properties:   map[string]any{"total": json.Number("10.50"), "big": json.Number("12345678901234567890")},
		Context:      map[string]any{"device": map[string]any{"type": "ios"}},
		Integrations: map[string]any{"All": true},
		Timestamp:    time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC),
		ReceivedAt:   time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC),
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}

	page, err := ParseEvent([]byte(`{"type":"page","name":"Home","event":"ignored","anonymousId":"a"}`))
	if err != nil || page.Event != "Home" {
		t.Errorf("page name: %q, %v", page.Event, err)
	}
	ident, err := ParseEvent([]byte(`{"type":"identify","name":"x","userId":"u"}`))
	if err != nil || ident.Event != "" {
		t.Errorf("identify event name: %q, %v", ident.Event, err)
	}

	for _, tc := range []struct{ in, err string }{
		{``, "empty"},
		{`[1,2]`, "JSON array, not an object"},
		{`"x"`, "JSON string, not an object"},
		{`null`, "JSON null, not an object"},
		{`{"type":"page"`, "not valid JSON"},
		{`{} {}`, "data after"},
		{`{"userId": true}`, `"userId" is a JSON boolean`},
		{`{"type": 3}`, `"type" is a JSON number`},
		{`{"traits": [1]}`, `"traits" is a JSON array`},
		{`{"receivedAt": "yesterday"}`, `"receivedAt" is not an RFC 3339 time`},
		{`{"timestamp": 5}`, `"timestamp" is a JSON number`},
	} {
		_, err := ParseEvent([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseEvent(%s) = %v, want an error containing %q", tc.in, err, tc.err)
		}
	}
}

// ids renders external ids as "type:value".
func ids(xs []ExternalID) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, x.Type+":"+x.Value)
	}
	return out
}

func TestExtractExternalIDs(t *testing.T) {
	custom := mustCompile(t, Rules{IDTypes: []IDType{
		{Name: "phone", Keys: []string{"phone_number"}},
		{Name: "app_user", Keys: []string{"appUser"}},
	}})
	ext := func(id string, typ string, coll any) map[string]any {
		m := map[string]any{"id": id, "type": typ, "encoding": "none"}
		if coll != nil {
			m["collection"] = coll
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		rules *CompiledRules
		ev    Event
		want  []string
	}{
		{"top-level ids", nil,
			Event{Type: "group", UserID: " u1 ", AnonymousID: "a1", GroupID: "g1", PreviousID: "p1"},
			[]string{"user_id:u1", "anonymous_id:a1", "group_id:g1"}},
		{"identify email from traits and context.traits", nil,
			Event{Type: "identify", Traits: map[string]any{"email": "j@x"}, Context: map[string]any{"traits": map[string]any{"email": "k@x"}}},
			[]string{"email:j@x", "email:k@x"}},
		{"group traits are the account's", nil,
			Event{Type: "group", GroupID: "g1", Traits: map[string]any{"email": "team@x"}},
			[]string{"group_id:g1"}},
		{"track properties.email", nil,
			Event{Type: "track", UserID: "u1", Properties: map[string]any{"email": "j@x"}},
			[]string{"user_id:u1", "email:j@x"}},
		{"page properties.email is not an id", nil,
			Event{Type: "page", AnonymousID: "a1", Properties: map[string]any{"email": "j@x"}},
			[]string{"anonymous_id:a1"}},
		{"android device", nil,
			Event{Type: "track", Context: map[string]any{"device": map[string]any{
				"type": "Android", "id": "d1", "advertisingId": "ad1", "adTrackingEnabled": true, "token": "t1"}}},
			[]string{"android.id:d1", "android.idfa:ad1", "android.push_token:t1"}},
		{"ios without ad tracking", nil,
			Event{Type: "track", Context: map[string]any{"device": map[string]any{
				"type": "ios", "id": "d1", "advertisingId": "ad1", "adTrackingEnabled": false}}},
			[]string{"ios.id:d1"}},
		{"ad tracking must be the boolean true", nil,
			Event{Type: "track", Context: map[string]any{"device": map[string]any{
				"type": "ios", "advertisingId": "ad1", "adTrackingEnabled": "true"}}},
			[]string{}},
		{"other device types", nil,
			Event{Type: "track", Context: map[string]any{"device": map[string]any{"type": "tv", "id": "d1"}}},
			[]string{}},
		{"ga client id", nil,
			Event{Type: "page", Integrations: map[string]any{"Google Analytics": map[string]any{"clientId": "c1"}},
				Context: map[string]any{"integrations": map[string]any{"Google Analytics": map[string]any{"clientId": "c2"}}}},
			[]string{"ga_client_id:c1", "ga_client_id:c2"}},
		{"externalIds", nil,
			Event{Type: "identify", Context: map[string]any{"externalIds": []any{
				ext("p1", "Phone", "users"),
				ext("p2", "phone", nil),
				ext("x1", "account_number", "accounts"),
				map[string]any{"id": "p3"},
				map[string]any{"type": "phone"},
				map[string]any{"id": map[string]any{}, "type": "phone"},
				map[string]any{"id": "p4", "type": 4},
				"junk",
				map[string]any{"id": json.Number("42"), "type": "phone", "collection": 7},
				map[string]any{"id": json.Number("43"), "type": "phone"},
			}}},
			[]string{"phone:43", "phone:p1", "phone:p2"}},
		{"configured keys in camel and snake case", custom,
			Event{Type: "identify", Traits: map[string]any{"phoneNumber": "555", "app_user": 7.0},
				Context:    map[string]any{"traits": map[string]any{"phone_number": "556"}},
				Properties: map[string]any{"appUser": "au"}},
			[]string{"app_user:7", "app_user:au", "phone:555", "phone:556"}},
		{"numbers, whitespace, empties, duplicates", nil,
			Event{Type: "identify", UserID: "", AnonymousID: "\t", Traits: map[string]any{"email": json.Number("1e3")},
				Context: map[string]any{"traits": map[string]any{"email": " 1000 "}}},
			[]string{"email:1000"}},
		{"non-scalar values are not ids", nil,
			Event{Type: "identify", Traits: map[string]any{"email": []any{"j@x"}}, Context: map[string]any{"traits": map[string]any{"email": true}}},
			[]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			equalStrings(t, "ids", ids(ExtractExternalIDs(tc.ev, tc.rules)), tc.want)
		})
	}
}

func TestExtractPriorityOrder(t *testing.T) {
	ev := Event{Type: "identify", UserID: "u1", AnonymousID: "a1",
		Traits: map[string]any{"email": "j@x"},
		Context: map[string]any{
			"device": map[string]any{"type": "android", "id": "d1"},
			"externalIds": []any{
				map[string]any{"id": "z1", "type": "zeta", "collection": "users"},
				map[string]any{"id": "b1", "type": "beta", "collection": "users"},
			},
		}}
	// Defaults: user_id, email, then known types alphabetically, then
	// unknown types alphabetically.
	equalStrings(t, "defaults", ids(ExtractExternalIDs(ev, nil)), []string{
		"user_id:u1", "email:j@x", "android.id:d1", "anonymous_id:a1", "beta:b1", "zeta:z1",
	})
	// Explicit ranks come first; zeta is configured so it ranks with the
	// known types.
	r := mustCompile(t, Rules{IDTypes: []IDType{
		{Name: "anonymous_id", Priority: 1},
		{Name: "zeta"},
	}})
	equalStrings(t, "configured", ids(ExtractExternalIDs(ev, r)), []string{
		"anonymous_id:a1", "user_id:u1", "email:j@x", "android.id:d1", "zeta:z1", "beta:b1",
	})
}

func TestBlockedValues(t *testing.T) {
	r := mustCompile(t, Rules{
		RecommendedBlocked: true,
		Blocked: []BlockRule{
			{Type: "email", Exact: "test@example.com"},
			{Regex: `@spam\.example$`},
			{Type: "user_id", Regex: `^tmp-`},
		},
	})
	for _, tc := range []struct {
		typ, value string
		blocked    bool
	}{
		{"email", "test@example.com", true},
		{"user_id", "test@example.com", false}, // the exact rule is for email only
		{"email", "TEST@example.com", false},   // exact rules are exact
		{"email", "a@spam.example", true},
		{"user_id", "a@spam.example", true},
		{"user_id", "tmp-1", true},
		{"anonymous_id", "tmp-1", false},
		{"user_id", "0", true},
		{"user_id", "000-000", true},
		{"user_id", "-", true},
		{"user_id", "-1", true},
		{"user_id", "NULL", true},
		{"user_id", "Anonymous", true},
		{"user_id", "undefined", true},
		{"user_id", "VOID", true},
		{"user_id", "abc123", true},
		{"user_id", "100", false},
		{"user_id", "-12", false},
		{"user_id", "nullable", false},
	} {
		ev := Event{Type: "identify", Traits: map[string]any{"email": tc.value}}
		if tc.typ != "email" {
			ev = Event{Type: "identify", Context: map[string]any{"externalIds": []any{
				map[string]any{"id": tc.value, "type": tc.typ, "collection": "users"}}}}
		}
		got := len(ExtractExternalIDs(ev, r)) == 0
		if got != tc.blocked {
			t.Errorf("%s %q: blocked = %v, want %v", tc.typ, tc.value, got, tc.blocked)
		}
	}
	// Without the recommended set these are ordinary values.
	if got := ids(ExtractExternalIDs(Event{Type: "page", UserID: "null", AnonymousID: "0"}, nil)); len(got) != 2 {
		t.Errorf("default rules block %v", got)
	}
}

func TestCompileRules(t *testing.T) {
	c := mustCompile(t, Rules{})
	if c.MaxMerges() != 100 || c.MaxIdentifiers() != 1000 {
		t.Errorf("caps %d %d", c.MaxMerges(), c.MaxIdentifiers())
	}
	if got := c.Type("user_id"); got.Limit != 1 || got.Window != WindowEver || got.Priority != 1 {
		t.Errorf("user_id = %+v", got)
	}
	if got := c.Type("Custom"); got.Name != "custom" || got.Limit != 5 || got.Window != WindowEver || got.Priority != 0 {
		t.Errorf("custom = %+v", got)
	}
	var order []string
	for _, tp := range c.Types() {
		order = append(order, tp.Name)
	}
	equalStrings(t, "default order", order, []string{
		"user_id", "email", "android.id", "android.idfa", "android.push_token", "anonymous_id",
		"ga_client_id", "group_id", "ios.id", "ios.idfa", "ios.push_token",
	})

	c = mustCompile(t, Rules{IDTypes: []IDType{{Name: "phone", Limit: 2, Window: WindowDaily, Keys: []string{"phoneNumber"}}}})
	if got := c.Type("phone"); got.Limit != 2 || got.Window != WindowDaily || !reflect.DeepEqual(got.Keys, []string{"phoneNumber", "phone_number"}) {
		t.Errorf("phone = %+v", got)
	}
	if got := mustCompile(t, DefaultRules()).Types(); !reflect.DeepEqual(got, mustCompile(t, Rules{}).Types()) {
		t.Errorf("DefaultRules differ from the zero Rules:\n%+v", got)
	}

	for _, tc := range []struct {
		r   Rules
		err string
	}{
		{Rules{IDTypes: []IDType{{Name: "phone", Limit: -1}}}, `id type "phone": limit -1 is negative`},
		{Rules{IDTypes: []IDType{{Name: "phone", Window: "hourly"}}}, `id type "phone": unknown window "hourly"`},
		{Rules{IDTypes: []IDType{{Name: "phone", Priority: -2}}}, `id type "phone": priority -2`},
		{Rules{IDTypes: []IDType{{Name: " "}}}, `id type #1 has no name`},
		{Rules{IDTypes: []IDType{{Name: "email"}, {Name: "Email"}}}, `"email" is configured twice`},
		{Rules{IDTypes: []IDType{{Name: "phone", Keys: []string{""}}}}, `id type "phone": empty key`},
		{Rules{Blocked: []BlockRule{{Exact: "x"}, {Type: "email", Regex: "("}}}, `block rule #2 (type "email"): bad regex "("`},
		{Rules{Blocked: []BlockRule{{}}}, `block rule #1 has neither exact nor regex`},
		{Rules{Blocked: []BlockRule{{Exact: "a", Regex: "b"}}}, `block rule #1 has both`},
		{Rules{MaxMerges: -1}, `max_merges -1`},
		{Rules{MaxIdentifiers: -1}, `max_identifiers -1`},
	} {
		_, err := CompileRules(tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CompileRules(%+v) = %v, want an error containing %q", tc.r, err, tc.err)
		}
	}
}

func TestKeySpellings(t *testing.T) {
	for in, want := range map[string][2]string{
		"appId":    {"app_id", "appId"},
		"app_id":   {"app_id", "appId"},
		"userID":   {"user_id", "userID"},
		"phone":    {"phone", "phone"},
		"_private": {"_private", "_private"},
	} {
		if got := [2]string{snakeCase(in), camelCase(in)}; got != want {
			t.Errorf("%s: got %v, want %v", in, got, want)
		}
	}
}
