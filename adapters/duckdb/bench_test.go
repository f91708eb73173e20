package duckdb

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// generator makes change-log rows shaped like the resolver's: profiles with
// Segment-style ids, two identifiers each, trait snapshots and merges, with
// a store-wide seq.
type generator struct {
	seq      int64
	profiles int
	idg      adapters.Rows
	eim      adapters.Rows
	ptu      adapters.Rows
}

// benchTraits are the trait columns of the generated snapshots.
var benchTraits = []adapters.Column{
	{Name: "email", Type: adapters.String}, {Name: "name", Type: adapters.String},
	{Name: "plan", Type: adapters.String}, {Name: "age", Type: adapters.Int},
	{Name: "score", Type: adapters.Float}, {Name: "vip", Type: adapters.Bool},
	{Name: "last_seen", Type: adapters.Timestamp},
}

func newGenerator() *generator {
	l := newChangeLog(benchTraits...)
	return &generator{idg: l.idg, eim: l.eim, ptu: l.ptu}
}

// segmentID returns the id of profile n: "use_" and 27 characters.
func segmentID(n int) string { return fmt.Sprintf("use_%027d", n) }

// trigger returns the columns every change-log row shares.
func (g *generator) trigger(seq int64) []any {
	ts := base.Add(time.Duration(seq) * time.Millisecond)
	return []any{fmt.Sprintf("evt_%020d", seq), "identify", "Identify", "src_1234567890", "Website", "website", ts, ts.Add(time.Second), ts.Add(2 * time.Second)}
}

func (g *generator) next() int64 { g.seq++; return g.seq }

func (g *generator) graph(seg, canon string) {
	seq := g.next()
	g.idg.Values = append(g.idg.Values, append([]any{fmt.Sprintf("idg_%020d", seq), seq, seg, canon}, g.trigger(seq)...))
}

func (g *generator) mapping(seg, typ, value string) {
	seq := g.next()
	sum := sha1.Sum([]byte(typ + value))
	g.eim.Values = append(g.eim.Values, append([]any{fmt.Sprintf("eim_%020d", seq), seq, seg, hex.EncodeToString(sum[:]), typ, value}, g.trigger(seq)...))
}

func (g *generator) snapshot(seg string, n int) {
	seq := g.next()
	row := append([]any{fmt.Sprintf("ptu_%020d", seq), seq, seg}, g.trigger(seq)...)
	row = append(row, fmt.Sprintf("user%d@example.com", n), fmt.Sprintf("User %d", n), []string{"free", "pro", "team"}[n%3],
		int64(20+n%60), float64(n%1000)/7, n%2 == 0, base.Add(time.Duration(n)*time.Second))
	g.ptu.Values = append(g.ptu.Values, row)
}

// profile creates a new profile with an anonymous id, an email and a
// snapshot: four change-log rows.
func (g *generator) profile() {
	n := g.profiles
	g.profiles++
	seg := segmentID(n)
	g.graph(seg, seg)
	g.mapping(seg, "anonymous_id", fmt.Sprintf("anon-%d", n))
	g.mapping(seg, "email", fmt.Sprintf("user%d@example.com", n))
	g.snapshot(seg, n)
}

// take returns the rows generated since the last take and forgets them.
func (g *generator) take() []adapters.Rows {
	out := []adapters.Rows{g.idg, g.eim, g.ptu}
	g.idg.Values, g.eim.Values, g.ptu.Values = nil, nil, nil
	return out
}

func ensureIdentityTables(b *testing.B, w *Warehouse) {
	b.Helper()
	for _, t := range adapters.IdentityTables() {
		if t.Name == adapters.TableProfileTraitsUpdates {
			t.Columns = append(t.Columns, benchTraits...)
		}
		if err := w.EnsureTable(b.Context(), t); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadIdentity loads 1M id_graph_updates rows in one chunk into an
// empty table.
func BenchmarkLoadIdentity(b *testing.B) {
	const n = 1_000_000
	g := newGenerator()
	for i := range n {
		seg := segmentID(i)
		g.graph(seg, seg)
	}
	rows := g.take()[0]
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		w := openTemp(b, "main")
		ensureIdentityTables(b, w)
		b.StartTimer()
		res, err := w.Load(b.Context(), adapters.Chunk{Stream: "id_graph_updates", Upto: int64(n), Tables: []adapters.Rows{rows}})
		if err != nil || res.Rows[adapters.TableIDGraphUpdates] != n {
			b.Fatalf("Load: %+v, %v", res, err)
		}
		b.StopTimer()
		_ = w.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIncrementalSync loads and materializes 10k new change-log rows
// on top of a history of 100k or 1M rows: 1,500 new profiles (6,000 rows),
// 1,000 merges of old profiles (2,000 rows) and 2,000 trait changes of old
// profiles. Each iteration is the next window and a sync as the worker runs
// it: Load, Materialize and Close, whose checkpoint writes the changes into
// the file; "close-ms" is the part of that.
func BenchmarkIncrementalSync(b *testing.B) {
	for _, history := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "warehouse.duckdb")
			w := openAt(b, path, "main")
			ensureIdentityTables(b, w)
			g := newGenerator()
			start := time.Now()
			after := int64(0)
			for g.seq < int64(history) {
				for range min(50_000, (int64(history)-g.seq+3)/4) {
					g.profile()
				}
				if _, err := w.Load(b.Context(), adapters.Chunk{Stream: "identity", After: after, Upto: g.seq, Tables: g.take()}); err != nil {
					b.Fatal(err)
				}
				after = g.seq
			}
			loaded := time.Since(start)
			start = time.Now()
			materialize(b, w, after)
			_ = w.Close()
			b.Logf("history: %d rows (%d profiles) loaded in %v, materialized in one window and closed in %v",
				g.seq, g.profiles, loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

			var closing time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				old := g.profiles
				for range 1500 {
					g.profile()
				}
				for j := range 1000 {
					// Merge old profile k+1 into k, with the survivor's snapshot.
					k := (i*2000 + 2*j) % old
					g.graph(segmentID(k+1), segmentID(k))
					g.snapshot(segmentID(k), k)
				}
				for j := range 2000 {
					k := (i*7919 + j*13 + 1) % old
					g.snapshot(segmentID(k), k+i+1)
				}
				tables := g.take()
				wh, err := Open(b.Context(), adapters.Config{Settings: map[string]string{"path": path}})
				if err != nil {
					b.Fatal(err)
				}
				w := wh.(*Warehouse)
				b.StartTimer()
				if _, err := w.Load(b.Context(), adapters.Chunk{Stream: "identity", After: after, Upto: g.seq, Tables: tables}); err != nil {
					b.Fatal(err)
				}
				counts := materialize(b, w, g.seq)
				start := time.Now()
				_ = w.Close()
				closing += time.Since(start)
				after = g.seq
				if i == 0 {
					b.Logf("first window wrote %v", counts)
				}
			}
			b.ReportMetric(10_000*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
			b.ReportMetric(float64(closing.Milliseconds())/float64(b.N), "close-ms")
		})
	}
}
