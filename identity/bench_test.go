package identity

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// traffic generates a site's event stream: visitors browse anonymously,
// some sign up or log in (identify with user id and email, which merges the
// visitor's anonymous profile into the user's when the user was seen on
// another device), known users keep tracking, and mobile screens carry
// device ids.
type traffic struct {
	rng      *rand.Rand
	pos      int64
	at       time.Time
	visitors int
}

func newTraffic(seed uint64) *traffic {
	return &traffic{rng: rand.New(rand.NewPCG(seed, seed)), at: t0()}
}

// visitor returns a recent visitor most of the time, else a new one.
func (g *traffic) visitor() int {
	if g.visitors == 0 || g.rng.IntN(10) < 3 {
		g.visitors++
		return g.visitors - 1
	}
	recent := min(g.visitors, 5000)
	return g.visitors - 1 - g.rng.IntN(recent)
}

func (g *traffic) next() Event {
	g.pos++
	g.at = g.at.Add(time.Duration(g.rng.IntN(200)) * time.Millisecond)
	v := g.visitor()
	user := v / 2 // two devices per user
	ev := Event{
		Pos:         g.pos,
		MessageID:   fmt.Sprintf("msg-%d", g.pos),
		SourceID:    "web",
		AnonymousID: fmt.Sprintf("anon-%08x-%d", v*2654435761, v),
		ReceivedAt:  g.at,
		Timestamp:   g.at,
	}
	switch r := g.rng.IntN(100); {
	case r < 50:
		ev.Type, ev.Event = "page", "Home"
		ev.Properties = map[string]any{"path": "/", "title": "Home"}
	case r < 65:
		ev.Type = "identify"
		ev.UserID = fmt.Sprintf("user-%d", user)
		ev.Traits = map[string]any{"email": fmt.Sprintf("user%d@example.com", user), "plan": "free"}
	case r < 90:
		ev.Type, ev.Event = "track", "Product Viewed"
		if g.rng.IntN(2) == 0 {
			ev.UserID = fmt.Sprintf("user-%d", user)
		}
		ev.Properties = map[string]any{"sku": "sku-1", "price": 10.5}
	default:
		ev.Type, ev.Event = "screen", "Cart"
		platform := []string{"ios", "android"}[v%2]
		ev.Context = map[string]any{"device": map[string]any{
			"type": platform, "id": fmt.Sprintf("dev-%d", v), "advertisingId": fmt.Sprintf("ad-%d", v),
			"adTrackingEnabled": true,
		}}
	}
	return ev
}

// BenchmarkResolve measures resolution throughput on a realistic mix of
// anonymous browsing, identifies, merges and mobile events.
func BenchmarkResolve(b *testing.B) {
	const n = 200_000
	g := newTraffic(1)
	events := make([]Event, n)
	for i := range events {
		events[i] = g.next()
	}
	rules := mustCompile(b, Rules{RecommendedBlocked: true})
	var e *Engine
	merges := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%n == 0 {
			b.StopTimer()
			e = NewEngine(rules)
			b.StartTimer()
		}
		merges += len(e.Resolve(events[i%n]).Merges)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(merges)/float64(b.N), "merges/event")
}

// BenchmarkIndexMemory builds an index of 1M identifiers from the same
// traffic and reports the heap it takes per identifier.
func BenchmarkIndexMemory(b *testing.B) {
	const target = 1_000_000
	rules := mustCompile(b, Rules{RecommendedBlocked: true})
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e := NewEngine(rules)
		g := newTraffic(2)
		for e.Stats().Identifiers < target {
			e.Resolve(g.next())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := e.Stats()
		runtime.KeepAlive(e)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(st.Identifiers), "B/identifier")
		b.ReportMetric(float64(st.Identifiers)/float64(st.Profiles), "identifiers/profile")
		b.ReportMetric(float64(g.pos), "events")
	}
}
