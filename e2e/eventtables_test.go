package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/admin"
)

// TestEventTablesAndSelectiveSync sends events through the running system
// into a PostgreSQL warehouse: flattened properties, traits and context, a
// 300-property event, 2,000 distinct event names, a property whose type
// changes across syncs; then turns tables off and on with the CLI, with and
// without a gap backfill.
func TestEventTablesAndSelectiveSync(t *testing.T) {
	t.Parallel()
	wh := sharedWarehouse(t)
	d := deploy(t, sharedWarehouse(t).dsn)
	storeDSN := strings.TrimPrefix(d.env[0], "PROFILESYNC_STORE_DSN=")
	writeKey := d.setupSpace()

	wide := map[string]any{}
	for i := range 300 {
		wide[fmt.Sprintf("prop%03d", i)] = i
	}
	first := []map[string]any{
		{"type": "track", "messageId": "o1", "userId": "u1", "event": "Order Completed",
			"properties": map[string]any{"revenue": 10, "currency": "EUR", "product": map[string]any{"sku": "s1"}}},
		{"type": "identify", "messageId": "i1", "userId": "u1",
			"traits": map[string]any{"email": "jane@example.com", "address": map[string]any{"city": "Paris"}}},
		{"type": "page", "messageId": "p1", "userId": "u1", "name": "Docs",
			"context": map[string]any{"page": map[string]any{"path": "/docs", "title": "Docs"}}},
		{"type": "track", "messageId": "w1", "userId": "u1", "event": "Wide Event", "properties": wide},
	}
	d.track(writeKey, first...)
	for b := range 4 {
		var many []map[string]any
		for i := b * 500; i < (b+1)*500; i++ {
			many = append(many, map[string]any{"type": "track", "messageId": fmt.Sprintf("n%d", i), "anonymousId": "a1",
				"event": fmt.Sprintf("Event %d", i), "properties": map[string]any{"i": i}})
		}
		d.track(writeKey, many...)
	}
	resolved(t, storeDSN, "main", 2004)
	id := d.addWarehouse("pg", wh.host, wh.port, wh.user, "unused", wh.database, "main")
	if s := d.waitSyncs(id, 1, 3*time.Minute)[0]; s.Status != "success" || s.EventRows != 2002 || s.EventTypeRows != 2004 {
		t.Fatalf("first sync: %+v", s)
	}

	// Another space may not land in the same schema: its event tables
	// would mix with this one's.
	var other admin.Space
	d.cliJSON("admin", "", &other, "space", "add", "other")
	r := d.cli("admin", "unused\n", "warehouse", "add", "clash", "--space", "other", "--type", "postgres", "--host", wh.host,
		"--port", fmt.Sprint(wh.port), "--user", wh.user, "--database", wh.database, "--schema", "main", "--password-stdin")
	if r.code != 1 || !strings.Contains(r.stderr, "already used by space main") || !strings.Contains(r.stderr, "HTTP 409") {
		t.Errorf("a second space in the same schema: exit %d %s", r.code, r.stderr)
	}

	col := func(table, column string) string {
		r := query(t, wh.dsn, `SELECT data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $1 AND column_name = $2`, table, column)
		if len(r) == 0 {
			return ""
		}
		return r[0][0]
	}
	for _, c := range [][3]string{
		{"order_completed", "revenue", "bigint"}, {"order_completed", "product_sku", "text"}, {"order_completed", "event_text", "text"},
		{"identifies", "email", "text"}, {"identifies", "address_city", "text"}, {"pages", "context_page_path", "text"},
		{"wide_event", "prop299", "bigint"}, {"event_1999", "i", "bigint"}, {"tracks", "segment_id", "text"}, {"tracks", "event_source_id", "text"},
	} {
		if got := col(c[0], c[1]); got != c[2] {
			t.Errorf("%s.%s: type %q, want %q", c[0], c[1], got, c[2])
		}
	}
	wantRows(t, "identifies", query(t, wh.dsn, `SELECT email, address_city FROM main.identifies`), []string{"jane@example.com", "Paris"})
	wantRows(t, "pages", query(t, wh.dsn, `SELECT context_page_path, name FROM main.pages`), []string{"/docs", "Docs"})
	wantRows(t, "event tables", query(t, wh.dsn, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name LIKE 'event\_%'`), []string{"2000"})
	wantRows(t, "tracks", query(t, wh.dsn, `SELECT count(*) FROM main.tracks`), []string{"2002"})

	// The property's type changes: a float widens the column, a string
	// goes to discards, and the rest of its row lands.
	d.track(writeKey,
		map[string]any{"type": "track", "messageId": "o2", "userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": 10.5}},
		map[string]any{"type": "track", "messageId": "o3", "userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": "ten", "currency": "USD"}},
	)
	resolved(t, storeDSN, "main", 2006)
	var s admin.Sync
	d.cliJSON("admin", "", &s, "sync", "now", id, "--wait")
	if got := tableRows(s); got["order_completed"] != 2 || got["discards"] != 1 {
		t.Errorf("second sync: %+v", s)
	}
	if got := col("order_completed", "revenue"); got != "double precision" {
		t.Errorf("revenue after a float: %s", got)
	}
	wantRows(t, "order_completed", query(t, wh.dsn, `SELECT id, revenue, currency FROM main.order_completed ORDER BY id`),
		[]string{"o1", "10", "EUR"}, []string{"o2", "10.5", "<nil>"}, []string{"o3", "<nil>", "USD"})
	wantRows(t, "discards", query(t, wh.dsn, `SELECT table_name, column_name, column_value, row_id FROM main.discards`),
		[]string{"order_completed", "revenue", "ten", "o3"})

	// Selective sync: off keeps what is there and stops new data.
	if r := d.cli("admin", "", "warehouse", "table", id, "order_completed", "--off"); r.code != 0 {
		t.Fatalf("table off: %s%s", r.stdout, r.stderr)
	}
	if r := d.cli("admin", "", "warehouse", "table", id, "pages", "--off"); r.code != 0 {
		t.Fatalf("table off: %s%s", r.stdout, r.stderr)
	}
	d.track(writeKey,
		map[string]any{"type": "track", "messageId": "o4", "userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": 4}},
		map[string]any{"type": "page", "messageId": "p2", "userId": "u1", "name": "Pricing"},
	)
	resolved(t, storeDSN, "main", 2008)
	d.cliJSON("admin", "", &s, "sync", "now", id, "--wait")
	if got := tableRows(s); got["order_completed"] != 0 || got["pages"] != 0 || got["tracks"] != 1 {
		t.Errorf("sync with tables off: %+v", got)
	}
	var tables []admin.TableSelection
	d.cliJSON("viewer", "", &tables, "warehouse", "tables", id)
	off := map[string]bool{}
	for _, tb := range tables {
		off[tb.Table] = !tb.Enabled
	}
	if !off["order_completed"] || !off["pages"] || off["tracks"] || len(tables) < 2000 {
		t.Errorf("warehouse tables: %d tables, off %v", len(tables), off)
	}

	// On without a backfill: new data flows, the gap stays.
	var changed admin.SelectionChanged
	d.cliJSON("admin", "", &changed, "warehouse", "table", id, "order_completed", "--on")
	if changed.Gap == nil || changed.BackfillWorkflowID != "" {
		t.Fatalf("on without a backfill: %+v", changed)
	}
	// On with the gap backfill.
	d.cliJSON("admin", "", &changed, "warehouse", "table", id, "pages", "--on", "--backfill-gap")
	if changed.Gap == nil || changed.BackfillWorkflowID == "" {
		t.Fatalf("on with a backfill: %+v", changed)
	}
	d.track(writeKey,
		map[string]any{"type": "track", "messageId": "o5", "userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": 5}},
		map[string]any{"type": "page", "messageId": "p3", "userId": "u1", "name": "Blog"},
	)
	resolved(t, storeDSN, "main", 2010)
	d.cliJSON("admin", "", &s, "sync", "now", id, "--wait")
	waitFor(t, 2*time.Minute, "the gap backfill", func(context.Context) (bool, error) {
		for _, r := range d.syncs(id) {
			if strings.HasPrefix(r.ID, changed.BackfillWorkflowID+"~") && r.Status != "running" {
				if r.Status != "success" {
					return false, fmt.Errorf("gap backfill: %+v", r)
				}
				return true, nil
			}
		}
		return false, nil
	})
	wantRows(t, "order_completed (o4 is the gap, not backfilled)", query(t, wh.dsn, `SELECT id FROM main.order_completed ORDER BY id`),
		[]string{"o1"}, []string{"o2"}, []string{"o3"}, []string{"o5"})
	wantRows(t, "pages (p2 backfilled)", query(t, wh.dsn, `SELECT id, name FROM main.pages ORDER BY id`),
		[]string{"p1", "Docs"}, []string{"p2", "Pricing"}, []string{"p3", "Blog"})
	wantRows(t, "tracks (every track event, whatever the selection)", query(t, wh.dsn, `SELECT count(*), count(DISTINCT id) FROM main.tracks`),
		[]string{"2006", "2006"})
}
