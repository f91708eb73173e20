// Package bench holds the end-to-end benchmarks recorded in BENCHMARKS.md.
// Run them with `make bench`; sizes come from the environment so that a
// quick run is possible (PROFILESYNC_BENCH_EVENTS).
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilesync/profilesync/ingest"
	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/resolver"
	"github.com/profilesync/profilesync/store"
)

// envInt reads a size from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// mixBatches builds n events in /v1/batch bodies of size events with a
// realistic mix: 70% anonymous browsing (pages and tracks), 20% identifies
// (user id, email, traits), and users coming back on new devices so that
// about one identify in five merges two profiles.
func mixBatches(n, size int, writeKey string) [][]byte {
	var out [][]byte
	visitors := max(n/20, 10) // each visitor makes ~20 events
	for start := 0; start < n; start += size {
		items := make([]map[string]any, 0, size)
		for k := start; k < min(start+size, n); k++ {
			v := k % visitors
			anon := fmt.Sprintf("anon-%08d", v)
			user := fmt.Sprintf("user-%08d", v/2) // two devices per user
			item := map[string]any{"messageId": fmt.Sprintf("bench-%d", k), "anonymousId": anon,
				"context": map[string]any{"library": map[string]any{"name": "analytics-node", "version": "3.1.0"},
					"ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"}}
			switch r := (k / visitors) % 10; {
			case r < 2:
				item["type"] = "identify"
				item["userId"] = user
				item["traits"] = map[string]any{"email": user + "@example.com", "plan": "pro", "logins": k % 97}
			case r < 5:
				item["type"] = "page"
				item["name"] = "Product"
				item["properties"] = map[string]any{"path": "/p/" + strconv.Itoa(k%500), "title": "Product page"}
			default:
				item["type"] = "track"
				item["event"] = "Product Viewed"
				item["properties"] = map[string]any{"sku": "sku-" + strconv.Itoa(k%997), "price": 19.99, "currency": "EUR"}
			}
			items = append(items, item)
		}
		body, _ := json.Marshal(map[string]any{"batch": items, "writeKey": writeKey})
		out = append(out, body)
	}
	return out
}

// BenchmarkIngestToResolved measures events per second from HTTP accept to
// resolved-and-committed, through the ingest API, the inbox, the resolver and
// the change logs, on PostgreSQL and on SQLite.
func BenchmarkIngestToResolved(b *testing.B) {
	n := envInt("PROFILESYNC_BENCH_EVENTS", 1_000_000)
	batches := mixBatches(n, 100, "wk_bench")
	b.Run("postgres", func(b *testing.B) { benchIngest(b, testenv.PostgresDSN(b), batches, n) })
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, filepath.Join(b.TempDir(), "store.db"), batches, n) })
}

func benchIngest(b *testing.B, dsn string, batches [][]byte, n int) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	for range b.N {
		b.StopTimer()
		st, err := store.Open(ctx, dsn, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		space := fmt.Sprintf("bench%d", time.Now().UnixNano())
		if err := st.CreateSpace(ctx, store.Space{ID: space, Name: space}); err != nil {
			b.Fatal(err)
		}
		if err := st.CreateSource(ctx, store.Source{ID: space + "_web", SpaceID: space, Name: "web", Slug: "web"}, "wk_bench"); err != nil {
			b.Fatal(err)
		}
		res := resolver.New(st, space, resolver.Options{Logger: quiet})
		ing := ingest.NewServer(ingest.Config{}, st, notifying{st, res}, quiet)
		ing.Start()
		srv := httptest.NewServer(ing)
		runCtx, cancel := context.WithCancel(ctx)
		resolved := make(chan struct{})
		go func() { defer close(resolved); res.Run(runCtx) }()
		runtime.GC()
		b.StartTimer()

		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 8 {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(batches) {
						return
					}
					resp, err := http.Post(srv.URL+"/v1/batch", "application/json", bytes.NewReader(batches[i]))
					if err != nil || resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
					if resp != nil {
						resp.Body.Close()
					}
				}
			})
		}
		wg.Wait()
		accepted := time.Since(start)
		// Wait until the resolver committed the last event.
		for {
			p, err := st.ResolverPosition(ctx, space)
			if err != nil {
				b.Fatal(err)
			}
			rest, err := st.ReadInbox(ctx, space, p.Pos, 1)
			if err != nil {
				b.Fatal(err)
			}
			if len(rest) == 0 && p.Pos > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if failed.Load() > 0 {
			b.Fatalf("%d batches failed", failed.Load())
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(n)/accepted.Seconds(), "accepted-events/s")
		cancel()
		<-resolved
		srv.Close()
		ing.Close(ctx)
		st.Close()
	}
}

// notifying wakes the resolver after each append.
type notifying struct {
	ingest.Inbox
	r *resolver.Resolver
}

func (n notifying) Append(ctx context.Context, events []store.InboxEvent, window time.Duration) ([]bool, error) {
	ok, err := n.Inbox.Append(ctx, events, window)
	n.r.Notify()
	return ok, err
}
