package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// benchSize reads a size from the environment.
func benchSize(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkLoadEventsVsIdentity measures, in one run on PostgreSQL (store
// and warehouse), how fast LoadEvents lands Track events into flattened
// tables — PROFILESYNC_BENCH_LOAD_EVENTS events (default 1,000,000) over 50
// event names with 20 properties each and a realistic context, each event a
// row in tracks and a row in its own table — and how fast LoadIdentity
// lands as many id_graph_updates rows, and reports both rates and their
// ratio. The store is filled directly (inbox, then the change logs and
// event stamps in batches), not through the resolver, so that the setup
// stays short. Run it once:
//
//	PROFILESYNC_BENCH_LOAD_EVENTS=100000 go test ./activities/ -run '^$' -bench LoadEventsVsIdentity -benchtime 1x
func BenchmarkLoadEventsVsIdentity(b *testing.B) {
	n := benchSize("PROFILESYNC_BENCH_LOAD_EVENTS", 1_000_000)
	st := openStore(b)
	start := time.Now()
	upto := fillStore(b, st, n)
	b.Logf("store filled with %d events and %d id_graph_updates rows in %v", n, n, time.Since(start).Round(time.Millisecond))
	dsn, _ := testStores.Load(st)
	acts := newActivities(st)
	ctx := context.Background()

	var eventsRate, identityRate float64
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench%d", i)
		settings := pgSettings(b, dsn.(string))
		settings["schema"] = "profiles_" + id
		createWarehouse(b, st, id, "postgres", settings, "pg-secret-not-checked-by-trust")
		if err := acts.PrepareSchema(ctx, workflows.WarehouseRef{WarehouseID: id}); err != nil {
			b.Fatal(err)
		}

		start := time.Now()
		out, err := acts.LoadIdentity(ctx, workflows.LoadInput{WarehouseID: id, Table: workflows.TableIDGraphUpdates, UptoSeq: upto.LastSeq})
		if err != nil {
			b.Fatal(err)
		}
		identityTime := time.Since(start)
		if out.Rows != int64(n) {
			b.Fatalf("LoadIdentity loaded %d rows, want %d", out.Rows, n)
		}

		start = time.Now()
		out, err = acts.LoadEvents(ctx, workflows.LoadEventsInput{WarehouseID: id, UptoPos: upto.Pos})
		if err != nil {
			b.Fatal(err)
		}
		eventsTime := time.Since(start)
		if out.Rows != 2*int64(n) || out.Tables["tracks"] != int64(n) || len(out.Tables) != 51 {
			b.Fatalf("LoadEvents loaded %d rows in %d tables, want %d in 51", out.Rows, len(out.Tables), 2*n)
		}

		identityRate = float64(n) / identityTime.Seconds()
		eventsRate = float64(n) / eventsTime.Seconds()
		b.Logf("id_graph_updates: %d rows in %v (%.0f rows/s); events: %d Track events (%d rows) in %v (%.0f events/s); ratio %.3f",
			n, identityTime.Round(time.Millisecond), identityRate, n, out.Rows, eventsTime.Round(time.Millisecond), eventsRate, eventsRate/identityRate)
	}
	b.ReportMetric(eventsRate, "events/s")
	b.ReportMetric(identityRate, "identity_rows/s")
	b.ReportMetric(eventsRate/identityRate, "ratio")
}

// benchProperties are the 20 properties of every benchmark event: strings,
// integers, floats, booleans and a timestamp, as a shop sends them.
func benchProperties(k int) map[string]any {
	return map[string]any{
		"product_id": "prod-" + strconv.Itoa(k%5000), "sku": "sku-" + strconv.Itoa(k%997), "category": "Games",
		"name": "Monopoly: 3rd Edition", "brand": "Hasbro", "variant": "200 pieces", "coupon": "MAYDEALS",
		"currency": "USD", "quantity": k % 5, "position": k % 30, "order_count": k % 100, "list_position": k % 7,
		"step": k % 4, "price": 18.99, "revenue": float64(k%10000) / 100, "discount": 2.5, "tax": 1.25,
		"in_stock": k%2 == 0, "gift": k%3 == 0, "ordered_at": "2026-03-01T12:00:00Z",
	}
}

// fillStore appends n Track events of 50 names to the inbox, then stamps
// them with profiles and commits one id_graph_updates row per event, in
// batches, and returns where the store stands.
func fillStore(b *testing.B, st store.Store, n int) store.Position {
	ctx := context.Background()
	const batch = 10_000
	ctxJSON := map[string]any{
		"library":   map[string]any{"name": "analytics.js", "version": "2.11.1"},
		"ip":        "203.0.113.7",
		"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"page":      map[string]any{"path": "/academy/", "referrer": "", "title": "Analytics Academy", "url": "https://segment.com/academy/"},
		"locale":    "en-US",
	}
	evs := make([]store.InboxEvent, 0, batch)
	for first := 0; first < n; first += batch {
		evs = evs[:0]
		for k := first; k < min(first+batch, n); k++ {
			at := t0.Add(time.Duration(k) * time.Millisecond)
			msg := map[string]any{
				"type": "track", "messageId": "e" + strconv.Itoa(k), "anonymousId": "anon-" + strconv.Itoa(k%20000),
				"userId": "user-" + strconv.Itoa(k%10000), "event": fmt.Sprintf("Event Name %02d", k%50),
				"properties": benchProperties(k), "context": ctxJSON,
				"receivedAt": at.Format(time.RFC3339Nano), "timestamp": at.Format(time.RFC3339Nano),
				"sentAt": at.Format(time.RFC3339Nano), "originalTimestamp": at.Format(time.RFC3339Nano),
			}
			payload, err := json.Marshal(msg)
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, store.InboxEvent{SpaceID: spaceID, SourceID: sourceID, MessageID: "e" + strconv.Itoa(k),
				Type: "track", ReceivedAt: at, Timestamp: at, Payload: payload})
		}
		if _, err := st.Append(ctx, evs, 24*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	pos, err := st.ResolverPosition(ctx, spaceID)
	if err != nil {
		b.Fatal(err)
	}
	for {
		evs, err := st.ReadInbox(ctx, spaceID, pos.Pos, batch)
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		bt := store.Batch{SpaceID: spaceID, FromPos: pos.Pos, ToPos: evs[len(evs)-1].Pos}
		for _, ev := range evs {
			seg := "seg-" + strconv.FormatInt(ev.Pos%10000, 10)
			bt.Events = append(bt.Events, store.EventSegment{Pos: ev.Pos, SegmentID: seg})
			bt.Graph = append(bt.Graph, identity.GraphUpdate{ID: "g" + strconv.FormatInt(ev.Pos, 10), SegmentID: seg, CanonicalSegmentID: seg,
				Trigger: identity.Trigger{EventPos: ev.Pos, EventID: ev.MessageID, EventType: ev.Type, EventName: "Event",
					SourceID: sourceID, Timestamp: ev.Timestamp, ReceivedAt: ev.ReceivedAt}})
		}
		if err := st.CommitBatch(ctx, &bt); err != nil {
			b.Fatal(err)
		}
		if pos, err = st.ResolverPosition(ctx, spaceID); err != nil {
			b.Fatal(err)
		}
	}
	if pos.Pos < int64(n) {
		b.Fatalf("store at %+v after %d events", pos, n)
	}
	return pos
}
