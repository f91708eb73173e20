package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/identity"
)

// Benchmarks of the two hot paths, on both backends:
//
//	go test -run '^$' -bench . -benchtime 200x ./store/
//
// BenchmarkAppend reports events/s for calls of 500 events of about 600
// bytes; BenchmarkCommitBatch reports change rows/s for batches of 500
// events, each with a graph, a mapping and a traits row and a stamp. Both
// also report the rate per CPU-second spent by the test process and the
// PostgreSQL backends (see cpuMeter), which a busy machine disturbs less.

func BenchmarkAppend(b *testing.B) {
	b.Run("postgres", func(b *testing.B) { benchAppend(b, postgresBackend(b), 1, 1) })
	b.Run("postgres/1-space-4-callers", func(b *testing.B) { benchAppend(b, postgresBackend(b), 1, 4) })
	b.Run("postgres/4-spaces-4-callers", func(b *testing.B) { benchAppend(b, postgresBackend(b), 4, 4) })
	b.Run("sqlite", func(b *testing.B) { benchAppend(b, sqliteBackend(), 1, 1) })
	b.Run("sqlite/4-spaces-4-callers", func(b *testing.B) { benchAppend(b, sqliteBackend(), 4, 4) })
}

func BenchmarkCommitBatch(b *testing.B) {
	b.Run("postgres", func(b *testing.B) { benchCommitBatch(b, postgresBackend(b)) })
	b.Run("sqlite", func(b *testing.B) { benchCommitBatch(b, sqliteBackend()) })
}

const (
	benchCallSize  = 500
	benchBatchSize = 500
)

// benchPayload is a typical normalized track event of about 600 bytes.
func benchPayload(msgID string) []byte {
	p := fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":%q,"userId":"user_8d1c2a",`+
		`"anonymousId":"anon_5f2e9b0c-1d3a-4c4e-9f0b-2a7d6c1e8b3f","timestamp":"2026-03-01T12:00:00.000Z",`+
		`"receivedAt":"2026-03-01T12:00:00.120Z","sentAt":"2026-03-01T12:00:00.050Z",`+
		`"properties":{"order_id":"ord_12345","total":129.99,"currency":"EUR","coupon":"SPRING",`+
		`"products":[{"sku":"sku-1","price":59.99,"qty":1},{"sku":"sku-2","price":70,"qty":1}]},`+
		`"context":{"library":{"name":"analytics-node","version":"2.1.0"},"ip":"203.0.113.7",`+
		`"userAgent":"Mozilla/5.0 (X11; Linux x86_64)","locale":"en-GB"},"integrations":{}}`, msgID)
	return []byte(p + strings.Repeat(" ", max(0, 600-len(p))))
}

// benchAppend has callers goroutines append b.N calls spread over spaces.
func benchAppend(b *testing.B, be backend, spaces, callers int) {
	ctx := context.Background()
	dsn := be.dsn(b)
	s := openStore(b, dsn, Options{})
	now := time.Now()
	var calls [][]InboxEvent
	newCall := func(space string, n int) []InboxEvent {
		events := make([]InboxEvent, benchCallSize)
		for i := range events {
			id := fmt.Sprintf("%s-%d-%d", space, n, i)
			events[i] = InboxEvent{SpaceID: space, SourceID: space + "_src", MessageID: id, Type: "track",
				ReceivedAt: now, Timestamp: now, Payload: benchPayload(id)}
		}
		return events
	}
	for n := range b.N {
		calls = append(calls, newCall(fmt.Sprintf("sp%d", n%spaces), n))
	}
	cpu := startCPU(b, dsn)
	b.ResetTimer()
	work := make(chan []InboxEvent)
	done := make(chan error)
	for range callers {
		go func() {
			var err error
			for events := range work {
				if err == nil {
					_, err = s.Append(ctx, events, 24*time.Hour)
				}
			}
			done <- err
		}()
	}
	for _, c := range calls {
		work <- c
	}
	close(work)
	for range callers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchCallSize)/b.Elapsed().Seconds(), "events/s")
	cpu.report(b, float64(b.N*benchCallSize), "events")
}

func benchCommitBatch(b *testing.B, be backend) {
	ctx := context.Background()
	dsn := be.dsn(b)
	s := openStore(b, dsn, Options{})
	now := time.Now()
	batches := make([]*Batch, b.N)
	for n := range batches {
		from := int64(n * benchBatchSize)
		bt := &Batch{SpaceID: "sp", FromPos: from, ToPos: from + benchBatchSize}
		for i := range benchBatchSize {
			pos := from + int64(i) + 1
			seg := fmt.Sprintf("use_%027d", pos)
			tr := identity.Trigger{EventPos: pos, EventID: fmt.Sprintf("msg-%d", pos), EventType: "identify",
				SourceID: "sp_src", Timestamp: now, ReceivedAt: now}
			bt.Graph = append(bt.Graph, identity.GraphUpdate{ID: "g" + seg, SegmentID: seg, CanonicalSegmentID: seg, Trigger: tr})
			bt.Mappings = append(bt.Mappings, identity.MappingUpdate{ID: "m" + seg, SegmentID: seg, Type: "email",
				Value: seg + "@example.org", Hash: fmt.Sprintf("%040x", pos), Trigger: tr})
			bt.Traits = append(bt.Traits, identity.TraitsUpdate{ID: "t" + seg, SegmentID: seg, Trigger: tr,
				Traits: identity.TraitSet{"email": {Value: seg + "@example.org", Pos: pos}, "plan": {Value: "pro", Pos: pos}}})
			bt.Events = append(bt.Events, EventSegment{Pos: pos, SegmentID: seg})
		}
		batches[n] = bt
	}
	cpu := startCPU(b, dsn)
	b.ResetTimer()
	for _, bt := range batches {
		if err := s.CommitBatch(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*3*benchBatchSize)/b.Elapsed().Seconds(), "rows/s")
	cpu.report(b, float64(b.N*3*benchBatchSize), "rows")
}
