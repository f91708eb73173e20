package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// BenchmarkLoadIdentity loads 1M id_graph_updates rows through Load in
// chunks of 100k, and copies the same chunks into an empty plain table (no
// keys, no indexes) with COPY, chunk by chunk in turn so that both see the
// same machine. It reports both rates and their ratio, then the rate of
// reloading 200k rows whose ids all exist (the staging-table merge).
func BenchmarkLoadIdentity(b *testing.B) {
	const total, chunk, replace = 1_000_000, 100_000, 200_000
	db := newTestDB(b)
	rows := graphRows("id_", total, 1)
	ctx := b.Context()
	var loadTime, copyTime, replaceTime time.Duration
	for b.Loop() {
		w := db.open(b)
		if err := w.EnsureSchema(ctx); err != nil {
			b.Fatal(err)
		}
		if err := w.EnsureTable(ctx, adapters.IDGraphUpdates()); err != nil {
			b.Fatal(err)
		}
		plain := w.QualifiedName("plain_copy")
		if _, err := w.db.ExecContext(ctx, "CREATE TABLE "+plain+" (LIKE "+w.QualifiedName(adapters.TableIDGraphUpdates)+")"); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < total; i += chunk {
			part := rows
			part.Values = rows.Values[i:min(i+chunk, total)]
			start := time.Now()
			if err := plainCopy(ctx, w, plain, rows.Columns, part.Values); err != nil {
				b.Fatal(err)
			}
			copyTime += time.Since(start)
			start = time.Now()
			c := adapters.Chunk{Stream: "graph", After: int64(i), Upto: int64(i + chunk), Tables: []adapters.Rows{part}}
			if _, err := w.Load(ctx, c); err != nil {
				b.Fatal(err)
			}
			loadTime += time.Since(start)
		}
		for i := 0; i < replace; i += chunk {
			part := rows
			part.Values = rows.Values[i:min(i+chunk, replace)]
			start := time.Now()
			c := adapters.Chunk{Stream: "again", After: int64(i), Upto: int64(i + chunk), Tables: []adapters.Rows{part}}
			if _, err := w.Load(ctx, c); err != nil {
				b.Fatal(err)
			}
			replaceTime += time.Since(start)
		}
		w.Close()
	}
	b.ReportMetric(float64(total)/loadTime.Seconds(), "load-rows/s")
	b.ReportMetric(float64(total)/copyTime.Seconds(), "copy-rows/s")
	b.ReportMetric(copyTime.Seconds()/loadTime.Seconds(), "load/copy")
	b.ReportMetric(float64(replace)/replaceTime.Seconds(), "replace-rows/s")
}

// plainCopy copies rows into table in one transaction.
func plainCopy(ctx context.Context, w *Warehouse, table string, cols []string, rows [][]any) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := copyIn(ctx, tx, table, cols, rows); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return tx.Commit()
}

// BenchmarkIncrementalSync times Load+Materialize of 10k new change-log rows
// (new profiles, merges of old profiles, trait updates, the old profiles
// drawn uniformly from the whole history) on top of 100k and of 10M
// change-log rows of history, built inside the warehouse with
// generate_series, and reports the median times of three rounds and their
// ratio. Building the 10M history takes most of its run (minutes).
func BenchmarkIncrementalSync(b *testing.B) {
	const rounds = 3
	db := newTestDB(b)
	ctx := b.Context()
	small := buildHistory(b, db.open(b), 100_000)
	large := buildHistory(b, db.open(b), 10_000_000)
	var smallTimes, largeTimes []time.Duration
	for b.Loop() {
		for range rounds {
			smallTimes = append(smallTimes, small.sync(ctx, b, 10_000))
			largeTimes = append(largeTimes, large.sync(ctx, b, 10_000))
		}
	}
	s, l := median(smallTimes), median(largeTimes)
	b.ReportMetric(float64(s.Milliseconds()), "ms/sync-100k")
	b.ReportMetric(float64(l.Milliseconds()), "ms/sync-10M")
	b.ReportMetric(l.Seconds()/s.Seconds(), "10M/100k")
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// history is a warehouse schema holding the change logs and current-state
// tables of n profiles, each with one id_graph_updates row (seq 3i-2), one
// mapping (3i-1) and one trait snapshot (3i), materialized up to 3n.
type history struct {
	w        *Warehouse
	profiles int   // profiles of the history: use_<i> for i in [1, profiles]
	seq      int64 // last seq
	rng      *rand.Rand
}

// buildHistory builds a history of about rows change-log rows in w's
// schema.
func buildHistory(b testing.TB, w *Warehouse, rows int) *history {
	b.Helper()
	ctx := b.Context()
	start := time.Now()
	b.Cleanup(func() { w.Close() })
	h := &history{w: w, profiles: rows / 3, seq: 3 * int64(rows/3), rng: rand.New(rand.NewPCG(1, 2))}
	traits := adapters.ProfileTraitsUpdates()
	traits.Columns = append(traits.Columns, adapters.Column{Name: "plan", Type: adapters.String}, adapters.Column{Name: "score", Type: adapters.Float})
	if err := w.EnsureSchema(ctx); err != nil {
		b.Fatal(err)
	}
	for _, t := range []adapters.Table{adapters.IDGraphUpdates(), adapters.ExternalIDMappingUpdates(), traits} {
		if err := w.EnsureTable(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	// A first, empty window creates the current-state tables.
	if _, err := w.Materialize(ctx, 1); err != nil {
		b.Fatal(err)
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s := quoteIdent(w.schema) + "."
	seg := func(i string) string { return `'use_' || lpad(` + i + `::text, 27, '0')` }
	ts := `timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => %s)`
	at := func(seq string) string { return fmt.Sprintf(ts, seq) }
	meta := func(seq string) string { return seq + ", " + at(seq) + ", " + at(seq) + ", " + at(seq) }
	n := fmt.Sprint(h.profiles)
	stmts := []string{
		"SET maintenance_work_mem = '512MB'",
		"SET synchronous_commit = off",
	}
	// Drop the keys and indexes, fill the tables, then build them again.
	for _, t := range []string{"id_graph_updates", "external_id_mapping_updates", "profile_traits_updates", "id_graph", "profile_merges", "external_id_mapping", "user_identifiers", "profile_traits", "user_traits"} {
		stmts = append(stmts, "ALTER TABLE "+s+t+" DROP CONSTRAINT "+t+"_pkey")
	}
	stmts = append(stmts,
		"DROP INDEX "+s+"id_graph_updates_seq_idx", "DROP INDEX "+s+"external_id_mapping_updates_seq_idx",
		"DROP INDEX "+s+"profile_traits_updates_seq_idx", "DROP INDEX "+s+"external_id_mapping_segment_id_idx",
		`INSERT INTO `+s+`id_graph_updates (id, segment_id, canonical_segment_id, triggering_event_type, seq, "timestamp", received_at, uuid_ts)
			SELECT 'g' || i, `+seg("i")+`, `+seg("i")+`, 'identify', `+meta("3*i-2")+` FROM generate_series(1, `+n+`) i`,
		`INSERT INTO `+s+`external_id_mapping_updates (id, segment_id, external_id_hash, external_id_type, external_id_value, triggering_event_type, seq, "timestamp", received_at, uuid_ts)
			SELECT 'm' || i, `+seg("i")+`, md5('email' || i), 'email', 'user' || i || '@example.com', 'identify', `+meta("3*i-1")+` FROM generate_series(1, `+n+`) i`,
		`INSERT INTO `+s+`profile_traits_updates (id, segment_id, plan, score, triggering_event_type, seq, "timestamp", received_at, uuid_ts)
			SELECT 't' || i, `+seg("i")+`, 'plan' || (i % 7), i / 3.0, 'identify', `+meta("3*i")+` FROM generate_series(1, `+n+`) i`,
		`INSERT INTO `+s+`id_graph (segment_id, canonical_segment_id, seq, "timestamp", received_at, uuid_ts)
			SELECT segment_id, canonical_segment_id, seq, "timestamp", received_at, uuid_ts FROM `+s+`id_graph_updates`,
		`INSERT INTO `+s+`profile_merges SELECT * FROM `+s+`id_graph`,
		`INSERT INTO `+s+`external_id_mapping (external_id_hash, external_id_type, external_id_value, segment_id, canonical_segment_id, seq, "timestamp", received_at, uuid_ts)
			SELECT external_id_hash, external_id_type, external_id_value, segment_id, segment_id, seq, "timestamp", received_at, uuid_ts FROM `+s+`external_id_mapping_updates`,
		`INSERT INTO `+s+`user_identifiers (canonical_segment_id, type, value, seq, "timestamp", received_at, uuid_ts)
			SELECT canonical_segment_id, external_id_type, external_id_value, seq, "timestamp", received_at, uuid_ts FROM `+s+`external_id_mapping`,
		`INSERT INTO `+s+`profile_traits (canonical_segment_id, plan, score, seq, "timestamp", received_at, uuid_ts)
			SELECT segment_id, plan, score, seq, "timestamp", received_at, uuid_ts FROM `+s+`profile_traits_updates`,
		`INSERT INTO `+s+`user_traits (canonical_segment_id, name, value, seq, "timestamp", received_at, uuid_ts)
			SELECT segment_id, 'plan', plan, seq, "timestamp", received_at, uuid_ts FROM `+s+`profile_traits_updates
			UNION ALL SELECT segment_id, 'score', score::text, seq, "timestamp", received_at, uuid_ts FROM `+s+`profile_traits_updates`,
	)
	for t, key := range map[string]string{
		"id_graph_updates": "id", "external_id_mapping_updates": "id", "profile_traits_updates": "id",
		"id_graph": "segment_id", "profile_merges": "segment_id", "external_id_mapping": "external_id_hash",
		"user_identifiers": "type, value", "profile_traits": "canonical_segment_id", "user_traits": "canonical_segment_id, name",
	} {
		stmts = append(stmts, "ALTER TABLE "+s+t+" ADD PRIMARY KEY ("+key+")")
	}
	stmts = append(stmts,
		"CREATE INDEX id_graph_updates_seq_idx ON "+s+"id_graph_updates (seq)",
		"CREATE INDEX external_id_mapping_updates_seq_idx ON "+s+"external_id_mapping_updates (seq)",
		"CREATE INDEX profile_traits_updates_seq_idx ON "+s+"profile_traits_updates (seq)",
		"CREATE INDEX external_id_mapping_segment_id_idx ON "+s+"external_id_mapping (segment_id)",
		"VACUUM ANALYZE",
		fmt.Sprintf("UPDATE %s_profilesync_watermarks SET watermark = %d WHERE stream = 'materialize'", s, h.seq),
		fmt.Sprintf("INSERT INTO %s_profilesync_watermarks (stream, watermark) VALUES ('identity', %d)", s, h.seq),
	)
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatalf("building history: %v\n%s", err, q)
		}
	}
	b.Logf("history of %d profiles (%d change-log rows) built in %v", h.profiles, h.seq, time.Since(start).Round(time.Second))
	return h
}

// sync loads k new change-log rows and materializes them, and returns the
// time both took. A fifth are new profiles (graph, mapping and snapshot
// rows), a tenth merges of old profiles into other old ones (graph row and
// the survivor's snapshot), the rest trait updates of old profiles.
func (h *history) sync(ctx context.Context, b testing.TB, k int) time.Duration {
	b.Helper()
	graph := adapters.Rows{Table: adapters.TableIDGraphUpdates, Columns: []string{"id", "segment_id", "canonical_segment_id", "triggering_event_type", "seq", "timestamp", "received_at", "uuid_ts"}}
	mapping := adapters.Rows{Table: adapters.TableExternalIDMappingUpdates, Columns: []string{"id", "segment_id", "external_id_hash", "external_id_type", "external_id_value", "seq", "timestamp", "received_at", "uuid_ts"}}
	traits := adapters.Rows{Table: adapters.TableProfileTraitsUpdates, Columns: []string{"id", "segment_id", "plan", "score", "seq", "timestamp", "received_at", "uuid_ts"}}
	after := h.seq
	now := time.Now().UTC()
	next := func() int64 { h.seq++; return h.seq }
	old := func() string { return fmt.Sprintf("use_%027d", 1+h.rng.IntN(h.profiles)) }
	for h.seq-after < int64(k) {
		switch left := int64(k) - (h.seq - after); {
		case left >= 3 && h.rng.IntN(10) < 2:
			seg := fmt.Sprintf("use_new_%023d", h.seq)
			q := next()
			graph.Values = append(graph.Values, []any{fmt.Sprintf("g%d", q), seg, seg, "identify", q, now, now, now})
			q = next()
			mapping.Values = append(mapping.Values, []any{fmt.Sprintf("m%d", q), seg, fmt.Sprintf("hash%d", q), "email", fmt.Sprintf("new%d@example.com", q), q, now, now, now})
			q = next()
			traits.Values = append(traits.Values, []any{fmt.Sprintf("t%d", q), seg, "free", 1.5, q, now, now, now})
		case left >= 2 && h.rng.IntN(10) < 1:
			from, to := old(), old()
			q := next()
			graph.Values = append(graph.Values, []any{fmt.Sprintf("g%d", q), from, to, "identify", q, now, now, now})
			q = next()
			traits.Values = append(traits.Values, []any{fmt.Sprintf("t%d", q), to, "merged", 2.5, q, now, now, now})
		default:
			q := next()
			traits.Values = append(traits.Values, []any{fmt.Sprintf("t%d", q), old(), "pro", float64(q), q, now, now, now})
		}
	}
	start := time.Now()
	_, err := h.w.Load(ctx, adapters.Chunk{Stream: "identity", After: after, Upto: h.seq, Tables: []adapters.Rows{graph, mapping, traits}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.w.Materialize(ctx, h.seq); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
