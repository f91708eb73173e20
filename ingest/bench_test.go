package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/profilesync/profilesync/store"
)

// nodeLikeBatch returns a batch body of n events shaped like those of
// analytics-node: identify, track and page calls with context and metadata.
func nodeLikeBatch(b *testing.B, n int) []byte {
	items := make([]obj, n)
	for i := range items {
		e := obj{
			"messageId":    fmt.Sprintf("node-next-1717236000000-%08d-0c1f-4bd2-9a55-0d8e2c0a1b2c", i),
			"timestamp":    "2024-06-01T10:00:00.123Z",
			"userId":       fmt.Sprintf("user-%d", i%50),
			"anonymousId":  fmt.Sprintf("anon-%d", i%70),
			"integrations": obj{},
			"context": obj{
				"library": obj{"name": "@segment/analytics-node", "version": "3.1.0"},
				"ip":      "203.0.113.7",
				"page":    obj{"path": "/checkout", "url": "https://shop.example/checkout", "title": "Checkout"},
			},
			"_metadata": obj{"nodeVersion": "v20.20.2", "jsRuntime": "node"},
		}
		switch i % 3 {
		case 0:
			e["type"] = "identify"
			e["traits"] = obj{"email": fmt.Sprintf("user-%d@example.com", i%50), "plan": "pro", "logins": i, "company": obj{"name": "Acme", "size": 50}}
		case 1:
			e["type"] = "track"
			e["event"] = "Order Completed"
			e["properties"] = obj{"order_id": fmt.Sprintf("o-%d", i), "revenue": 42.5, "currency": "EUR",
				"products": []obj{{"sku": "a-1", "price": 20, "qty": 1}, {"sku": "b-2", "price": 22.5, "qty": 1}}}
		default:
			e["type"] = "page"
			e["name"] = "Checkout"
			e["properties"] = obj{"path": "/checkout", "referrer": "https://shop.example/cart"}
		}
		items[i] = e
	}
	return mustJSON(b, obj{"batch": items, "writeKey": testKey, "sentAt": "2024-06-01T10:00:01.000Z"})
}

// noopInbox accepts everything at once.
func noopInbox() Inbox {
	return inboxFunc(func(events []store.InboxEvent) ([]bool, error) {
		ok := make([]bool, len(events))
		for i := range ok {
			ok[i] = true
		}
		return ok, nil
	})
}

// BenchmarkHandler measures the handler path (auth, body, parse, validate,
// normalize, group commit) with a no-op inbox, from concurrent clients
// posting batches of 100 events.
func BenchmarkHandler(b *testing.B) {
	const perBatch = 100
	body := nodeLikeBatch(b, perBatch)
	s := newTestServer(b, Config{}, noopInbox())
	auth := basic(testKey + ":")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(4)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkParse measures parse, validate and normalize alone, on one core.
func BenchmarkParse(b *testing.B) {
	const perBatch = 100
	body := nodeLikeBatch(b, perBatch)
	lim := limits{maxEventBytes: DefaultMaxEventBytes, maxBatchBytes: DefaultMaxBatchBytes, maxBatchEvents: DefaultMaxBatchEvents}
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, p := parseRequest(body, routeBatch, now, lim); p.err != nil || len(p.events) != perBatch {
			b.Fatalf("parse: %v, %d events", p.err, len(p.events))
		}
	}
	b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "events/s")
}
