package activities

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/workflows"
)

// LoadIdentity loads one change-log table up to in.UptoSeq, chunk by chunk
// (see workflows.Activities).
func (a *Activities) LoadIdentity(ctx context.Context, in workflows.LoadInput) (workflows.LoadOutput, error) {
	if !slices.Contains(workflows.IdentityTables(), in.Table) {
		return workflows.LoadOutput{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%q is not a change-log table", in.Table), workflows.ErrTypeBadConfig, nil)
	}
	w, err := a.openWarehouse(ctx, in.WarehouseID)
	if err != nil {
		return workflows.LoadOutput{}, err
	}
	defer w.close(a)
	space := w.record.SpaceID
	job := loadJob{
		activity: workflows.ActivityLoadIdentity,
		stream:   in.Table,
		upto:     in.UptoSeq,
		primary:  in.Table,
	}
	switch in.Table {
	case workflows.TableIDGraphUpdates:
		job.read = func(ctx context.Context, l *loader, c *chunkRows, after, upto int64, limit int) (int, int64, error) {
			rows, err := a.Store.GraphUpdates(ctx, space, after, upto, limit)
			if err != nil || len(rows) == 0 {
				return 0, 0, err
			}
			return len(rows), rows[len(rows)-1].Seq, l.graphRows(ctx, c, rows)
		}
	case workflows.TableExternalIDMappingUpdates:
		job.read = func(ctx context.Context, l *loader, c *chunkRows, after, upto int64, limit int) (int, int64, error) {
			rows, err := a.Store.MappingUpdates(ctx, space, after, upto, limit)
			if err != nil || len(rows) == 0 {
				return 0, 0, err
			}
			return len(rows), rows[len(rows)-1].Seq, l.mappingRows(ctx, c, rows)
		}
	case workflows.TableProfileTraitsUpdates:
		job.read = func(ctx context.Context, l *loader, c *chunkRows, after, upto int64, limit int) (int, int64, error) {
			rows, err := a.Store.TraitsUpdates(ctx, space, after, upto, limit)
			if err != nil || len(rows) == 0 {
				return 0, 0, err
			}
			return len(rows), rows[len(rows)-1].Seq, l.traitsRows(ctx, c, rows)
		}
	}
	return a.runLoad(ctx, w, job)
}

// LoadEvents loads the resolved events in (max(watermark, in.After),
// in.UptoPos] into the event tables (see workflows.Activities).
func (a *Activities) LoadEvents(ctx context.Context, in workflows.LoadEventsInput) (workflows.LoadOutput, error) {
	return a.loadEvents(ctx, workflows.ActivityLoadEvents, in.WarehouseID, workflows.StreamEvents, in.After, in.UptoPos, nil)
}

// LoadEventsRange loads the events in (in.After, in.Upto] under the
// backfill's own watermark stream (see workflows.Activities).
func (a *Activities) LoadEventsRange(ctx context.Context, in workflows.LoadRangeInput) (workflows.LoadOutput, error) {
	if in.Stream == "" || in.Stream == workflows.StreamEvents || slices.Contains(workflows.IdentityTables(), in.Stream) {
		return workflows.LoadOutput{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("a backfill needs a watermark stream of its own, not %q", in.Stream), workflows.ErrTypeBadConfig, nil)
	}
	return a.loadEvents(ctx, workflows.ActivityLoadEventsRange, in.WarehouseID, in.Stream, in.After, in.Upto, in.Tables)
}

// loadEvents loads events into the event tables, leaving out what selective
// sync turned off and, when only is not empty, every table but those.
func (a *Activities) loadEvents(ctx context.Context, name, warehouseID, stream string, after, upto int64, only []string) (workflows.LoadOutput, error) {
	w, err := a.openWarehouse(ctx, warehouseID)
	if err != nil {
		return workflows.LoadOutput{}, err
	}
	defer w.close(a)
	sel, err := a.loadSelection(ctx, warehouseID, only)
	if err != nil {
		return workflows.LoadOutput{}, err
	}
	space := w.record.SpaceID
	return a.runLoad(ctx, w, loadJob{
		activity:  name,
		stream:    stream,
		floor:     after,
		upto:      upto,
		primary:   workflows.ReportEvents,
		selection: sel,
		read: func(ctx context.Context, l *loader, c *chunkRows, after, upto int64, limit int) (int, int64, error) {
			evs, err := a.Store.Events(ctx, space, after, upto, limit)
			if err != nil || len(evs) == 0 {
				return 0, 0, err
			}
			l.eventRows(c, evs)
			return len(evs), evs[len(evs)-1].Pos, nil
		},
	})
}

// loadJob is one load: a watermark stream and how to read its rows.
type loadJob struct {
	activity string
	stream   string
	upto     int64 // load up to here
	floor    int64 // rows at or below are not loaded (a first sync's lookback)
	// primary is LoadOutput.Table: the change-log table, or "events".
	primary string
	// selection leaves tables and columns out (event loads only).
	selection *selection
	// read reads up to limit store rows in (after, upto] into c and returns
	// how many it read and the seq or position of the last.
	read func(ctx context.Context, l *loader, c *chunkRows, after, upto int64, limit int) (n int, last int64, err error)
}

// runLoad loads a stream chunk by chunk from the warehouse's watermark up
// to job.upto. Each chunk starts at the watermark (adapters refuse a gap)
// and ends at its last row, or at job.upto when the store had fewer rows
// than a chunk holds; the adapter loads it and moves the watermark in one
// transaction. A retry resumes at the watermark, and takes the row counts of
// earlier attempts from the heartbeat details.
func (a *Activities) runLoad(ctx context.Context, w *openedWarehouse, job loadJob) (workflows.LoadOutput, error) {
	log := a.logger().With("activity", job.activity, "warehouse_id", w.record.ID, "stream", job.stream)
	l := newLoader(a, w, log)
	l.selection = job.selection
	limit := a.chunkSize()
	start := time.Now()

	wm, err := w.Watermark(ctx, job.stream)
	if err != nil {
		return workflows.LoadOutput{}, w.fail(ctx, "reading the watermark of "+job.stream, err)
	}
	prog := resumeProgress(ctx, wm, log)
	resumedRows := prog.Rows
	hb := startHeartbeats(ctx, prog)
	defer hb.stop()
	tables := prog.tables() // rows per table, this attempt's and earlier ones'

	fail := func(what string, err error) (workflows.LoadOutput, error) {
		out := output(job.primary, tables)
		// The error goes to Temporal; logs carry ids and counts only.
		log.Warn("load failed", "watermark", wm, "rows", out.Rows, "chunks", prog.Chunks, "auth", isAuthError(err))
		return out, w.fail(ctx, what, err, out)
	}
	// The next chunk is read and built while the current one loads: the
	// building costs CPU here, the loading mostly time in the warehouse.
	var building *builtChunk
	build := func(from int64) {
		building = buildChunk(ctx, a, l, job, from, limit)
	}
	// wait returns the chunk being built; none is being built after it.
	wait := func() builtChunk {
		if building == nil {
			return builtChunk{}
		}
		b := building.wait()
		building = nil
		return b
	}
	defer wait()

	retried := false // whether the current chunk is a retry with a fresh schema
	build(wm)
	for wm < job.upto {
		b := wait()
		if b.err != nil {
			return fail(fmt.Sprintf("reading %s after %d", job.stream, b.from), b.err)
		}
		if err := ctx.Err(); err != nil {
			return fail("loading "+job.stream, err)
		}
		c, chunkUpto := b.c, b.upto
		what := "loading " + job.stream
		rows, err := l.prepare(ctx, c)
		var res adapters.LoadResult
		if err == nil {
			if chunkUpto < job.upto {
				build(chunkUpto)
			}
			what = fmt.Sprintf("loading %s (%d, %d]", job.stream, wm, chunkUpto)
			res, err = w.Load(ctx, adapters.Chunk{Stream: job.stream, After: wm, Upto: chunkUpto, Tables: rows})
		}
		if err != nil {
			wait()
			// The schema cache may be stale: another load added or retyped
			// a column, or someone dropped one. If the warehouse's schema
			// differs from the cache, build the chunk again on the fresh
			// one, once.
			if !retried && ctx.Err() == nil && !isAuthError(err) && l.refresh(ctx, c) {
				retried = true
				log.Info("schema changed under the load: retrying the chunk", "after", wm, "upto", chunkUpto)
				build(wm)
				continue
			}
			return fail(what, err)
		}
		retried = false
		if res.Skipped {
			// Another load moved the watermark past this chunk: go on from
			// where it stands.
			wait()
			next, err := w.Watermark(ctx, job.stream)
			if err != nil {
				return fail("reading the watermark of "+job.stream, err)
			}
			log.Info("chunk already loaded", "after", wm, "upto", chunkUpto, "watermark", next)
			if next <= wm {
				return fail("loading "+job.stream, fmt.Errorf("the adapter skipped the chunk (%d, %d] but the watermark is %d", wm, chunkUpto, next))
			}
			wm = next
			prog.Watermark = wm
			hb.record(prog)
			build(wm)
			continue
		}
		l.stats.add(c.counts)
		var chunkRows int64
		for table, n := range res.Rows {
			tables[table] += n
			chunkRows += n
		}
		prog.add(res.Rows)
		prog.Watermark, prog.Chunks = chunkUpto, prog.Chunks+1
		wm = chunkUpto
		hb.record(prog)
		log.Debug("chunk loaded", "upto", chunkUpto, "rows", chunkRows, "tables", len(res.Rows))
	}
	out := output(job.primary, tables)
	log.Info("load finished", "watermark", wm, "rows", out.Rows, "resumed_rows", resumedRows, "chunks", prog.Chunks,
		"discarded", l.stats.discarded, "malformed_events", l.stats.malformed, "unknown_type_events", l.stats.unknownType,
		"tables_created", l.stats.tables, "columns_added", l.stats.columns, "columns_widened", l.stats.widened,
		"schema_refreshes", l.stats.refreshed, "duration_ms", time.Since(start).Milliseconds())
	return out, nil
}

// builtChunk is a chunk read from the store and built into rows: the rows
// of the stream after from (or after the job's floor), up to upto.
type builtChunk struct {
	from, upto int64
	c          *chunkRows
	err        error
	done       chan struct{}
}

// buildChunk reads and builds, on a goroutine of its own, the chunk that
// starts at from: up to limit store rows, ending at the last one read, or
// at job.upto when there were fewer. Call wait for the chunk.
func buildChunk(ctx context.Context, a *Activities, l *loader, job loadJob, from int64, limit int) *builtChunk {
	b := &builtChunk{from: from, upto: job.upto, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.c = newChunkRows(a.now().UTC().Truncate(time.Microsecond), l.maxString)
		if after := max(from, job.floor); after < job.upto {
			n, last, err := job.read(ctx, l, b.c, after, job.upto, limit)
			switch {
			case err != nil:
				b.err = err
			case n >= limit:
				b.upto = last
			}
		}
	}()
	return b
}

// wait waits for the chunk and returns it.
func (b *builtChunk) wait() builtChunk {
	<-b.done
	return *b
}

// output is the LoadOutput of a load: the rows per table. A change-log load
// always names its table; an events load names the tables it wrote.
func output(primary string, tables map[string]int64) workflows.LoadOutput {
	out := workflows.LoadOutput{Table: primary, Tables: map[string]int64{}}
	for t, n := range tables {
		if n > 0 || t == primary && primary != workflows.ReportEvents {
			out.Tables[t] = n
			out.Rows += n
		}
	}
	if len(out.Tables) == 0 {
		out.Tables = nil
	}
	return out
}

// progressTables are the tables whose row counts the heartbeat details
// carry, by position; rows of other tables (Track event tables) are
// counted by name.
var progressTables = []string{
	adapters.TableIDGraphUpdates, adapters.TableExternalIDMappingUpdates, adapters.TableProfileTraitsUpdates,
	adapters.TableIdentifies, adapters.TablePages, adapters.TableScreens,
	adapters.TableGroups, adapters.TableAliases, adapters.TableTracks,
	adapters.TableDiscards,
}

// progress is the heartbeat detail of a load: numbers, and the names of the
// Track event tables as LoadOutput carries them; never values.
type progress struct {
	// Watermark is the stream's watermark after the last chunk loaded.
	Watermark int64 `json:"watermark"`
	// Chunks and Rows are the chunks and rows loaded so far, over all
	// attempts.
	Chunks int64 `json:"chunks"`
	Rows   int64 `json:"rows"`
	// Tables holds the rows per table of progressTables, by position; the
	// slot after them counts rows of other tables from details written
	// before Events existed.
	Tables []int64 `json:"tables"`
	// Events holds the rows of the other tables (one per Track event),
	// by table.
	Events map[string]int64 `json:"events,omitempty"`
}

func newProgress() progress {
	return progress{Tables: make([]int64, len(progressTables)+1)}
}

// add counts a chunk's rows.
func (p *progress) add(rows map[string]int64) {
	for table, n := range rows {
		p.Rows += n
		if i := slices.Index(progressTables, table); i >= 0 {
			p.Tables[i] += n
			continue
		}
		if p.Events == nil {
			p.Events = map[string]int64{}
		}
		p.Events[table] += n
	}
}

// tables returns the rows per table of p. Rows that p counts without a
// table are reported under "events".
func (p *progress) tables() map[string]int64 {
	out := map[string]int64{}
	for i, n := range p.Tables {
		if n == 0 {
			continue
		}
		if i < len(progressTables) {
			out[progressTables[i]] += n
		} else {
			out[workflows.ReportEvents] += n
		}
	}
	for table, n := range p.Events {
		out[table] += n
	}
	return out
}

// clone returns a copy of p that shares nothing with it.
func (p progress) clone() progress {
	p.Tables = slices.Clone(p.Tables)
	p.Events = maps.Clone(p.Events)
	return p
}

// resumeProgress returns the progress of earlier attempts from the heartbeat
// details, or a fresh one. The warehouse's watermark is the truth about what
// is loaded: details from beyond it (a watermark reset) are dropped, and
// chunks an attempt loaded without heartbeating them are not counted.
func resumeProgress(ctx context.Context, wm int64, log *slog.Logger) *progress {
	p := newProgress()
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		var d progress
		switch err := activity.GetHeartbeatDetails(ctx, &d); {
		case err != nil:
			log.Warn("unreadable heartbeat details: counting rows from zero")
		case d.Watermark > wm:
			log.Warn("heartbeat details past the watermark: counting rows from zero", "details_watermark", d.Watermark, "watermark", wm)
		default:
			d.Tables = append(d.Tables, make([]int64, max(len(p.Tables)-len(d.Tables), 0))...)
			p = d
			log.Info("resuming", "watermark", wm, "rows", d.Rows, "chunks", d.Chunks)
		}
	}
	p.Watermark = wm
	return &p
}

// heartbeats records heartbeats: after every chunk, and from a ticker while
// a long chunk loads or a materialization runs, so the activity is never
// silent for longer than its heartbeat timeout.
type heartbeats struct {
	ctx  context.Context
	mu   sync.Mutex
	last []any // details of the latest heartbeat
	done chan struct{}
	wg   sync.WaitGroup
}

// heartbeatEvery bounds the ticker interval; it is a quarter of the
// heartbeat timeout when that is shorter. The SDK throttles what it sends.
const heartbeatEvery = 10 * time.Second

// startHeartbeats starts the ticker; p, if not nil, is the first detail.
func startHeartbeats(ctx context.Context, p *progress) *heartbeats {
	h := &heartbeats{ctx: ctx, done: make(chan struct{})}
	if !activity.IsActivity(ctx) {
		return h
	}
	if p != nil {
		h.last = []any{p.clone()}
	}
	every := heartbeatEvery
	if t := activity.GetInfo(ctx).HeartbeatTimeout; t > 0 {
		every = min(every, max(t/4, 100*time.Millisecond))
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				h.mu.Lock()
				activity.RecordHeartbeat(ctx, h.last...)
				h.mu.Unlock()
			}
		}
	}()
	return h
}

// record heartbeats p now and makes it the ticker's detail.
func (h *heartbeats) record(p *progress) {
	if !activity.IsActivity(h.ctx) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = []any{p.clone()}
	activity.RecordHeartbeat(h.ctx, h.last...)
}

// stop stops the ticker.
func (h *heartbeats) stop() {
	close(h.done)
	h.wg.Wait()
}
