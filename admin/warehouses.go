package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// requiredSettings are the settings each supported warehouse type needs.
func requiredSettings(typ string) ([]string, bool) {
	switch typ {
	case "postgres":
		return []string{"host", "user", "database", "schema"}, true
	case "duckdb":
		return []string{"path", "schema"}, true
	}
	return nil, false
}

func warehouseOut(w store.Warehouse) Warehouse {
	return Warehouse{ID: w.ID, SpaceID: w.SpaceID, Name: w.Name, Type: w.Type, Settings: w.Config,
		State: w.State, Schedule: w.Schedule, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

func (s *Server) listWarehouses(w http.ResponseWriter, r *http.Request) error {
	whs, err := s.store.ListWarehouses(r.Context(), r.URL.Query().Get("space"))
	if err != nil {
		return err
	}
	out := make([]Warehouse, 0, len(whs))
	for _, wh := range whs {
		out = append(out, warehouseOut(wh))
	}
	return writeJSON(w, http.StatusOK, out)
}

// addWarehouse records a warehouse, stores its password encrypted and starts
// its workflow, which tests the connection. Unless wait=0, the answer comes
// once the test finished.
func (s *Server) addWarehouse(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in AddWarehouse
	if err := decode(r, &in); err != nil {
		return err
	}
	sp, err := s.store.GetSpace(ctx, in.SpaceID)
	if errors.Is(err, store.ErrNotFound) {
		return badRequest("space %q does not exist", in.SpaceID)
	} else if err != nil {
		return err
	}
	if !validID.MatchString(in.Name) {
		return badRequest("warehouse name %q: use 1-63 lowercase letters, digits and underscores, starting with a letter", in.Name)
	}
	need, ok := requiredSettings(in.Type)
	if !ok {
		return badRequest("unsupported warehouse type %q (supported: postgres, duckdb)", in.Type)
	}
	settings := map[string]string{}
	for k, v := range in.Settings {
		settings[k] = v
	}
	if settings["schema"] == "" {
		settings["schema"] = sp.ID // one schema per space, named after it by default
	}
	for _, k := range need {
		if settings[k] == "" {
			return badRequest("%s warehouse needs setting %q", in.Type, k)
		}
	}
	if in.Type == "postgres" && in.Password == "" {
		return badRequest("postgres warehouse needs a password")
	}
	if in.Schedule == "" {
		in.Schedule = workflows.DefaultSchedule
	}
	if err := workflows.ValidateSchedule(in.Schedule); err != nil {
		return badRequest("schedule: %v", err)
	}
	var lookback time.Duration
	if in.EventsLookback != "" {
		if lookback, err = time.ParseDuration(in.EventsLookback); err != nil || lookback < 0 {
			return badRequest("events_lookback %q: want a positive duration such as 1440h", in.EventsLookback)
		}
	}
	if err := s.checkSchemaFree(ctx, sp.ID, in.Type, settings); err != nil {
		return err
	}

	wh := store.Warehouse{ID: "wh_" + randomID(10), SpaceID: sp.ID, Name: in.Name, Type: in.Type,
		Config: settings, State: workflows.StateTesting, Schedule: in.Schedule}
	if err := s.store.CreateWarehouse(ctx, wh); err != nil {
		return err
	}
	if in.Password != "" {
		if err := s.store.PutCredentials(ctx, wh.ID, []byte(in.Password)); err != nil {
			s.store.DeleteWarehouse(context.WithoutCancel(ctx), wh.ID)
			return fmt.Errorf("storing credentials: %w", err)
		}
	}
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.WarehouseWorkflowID(wh.ID),
		TaskQueue: s.taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WarehouseIDKey.ValueSet(wh.ID), workflows.SpaceIDKey.ValueSet(sp.ID)),
	}, workflows.WarehouseWorkflowType, workflows.WarehouseInput{
		WarehouseID: wh.ID, SpaceID: sp.ID, Schedule: in.Schedule, EventsLookback: lookback,
	})
	if err != nil {
		s.store.DeleteWarehouse(context.WithoutCancel(ctx), wh.ID)
		return fmt.Errorf("starting the warehouse workflow: %w", err)
	}
	s.log.Info("warehouse added", "warehouse", wh.ID, "space", sp.ID, "type", wh.Type, "by", actorOf(r).Name)
	if r.URL.Query().Get("wait") != "0" {
		if _, err := s.awaitState(ctx, wh.ID, func(st workflows.WarehouseState) bool {
			return st.State != workflows.StateTesting
		}); err != nil {
			return err
		}
	}
	return s.writeStatus(w, r, http.StatusCreated, wh.ID)
}

// checkSchemaFree refuses a schema that another space already lands in on
// the same warehouse: its event tables would be overwritten.
func (s *Server) checkSchemaFree(ctx context.Context, spaceID, typ string, settings map[string]string) error {
	all, err := s.store.ListWarehouses(ctx, "")
	if err != nil {
		return err
	}
	target := destination(typ, settings)
	for _, o := range all {
		if o.SpaceID != spaceID && o.Type == typ && destination(o.Type, o.Config) == target {
			return &httpError{http.StatusConflict, fmt.Sprintf("schema %q on this warehouse is already used by space %s; choose another schema", settings["schema"], o.SpaceID)}
		}
	}
	return nil
}

// destination identifies the schema a warehouse lands in.
func destination(typ string, c map[string]string) string {
	if typ == "duckdb" {
		return c["path"] + "\x00" + c["schema"]
	}
	port := c["port"]
	if port == "" {
		port = "5432"
	}
	return c["host"] + "\x00" + port + "\x00" + c["database"] + "\x00" + c["schema"]
}

func (s *Server) warehouseStatus(w http.ResponseWriter, r *http.Request) error {
	return s.writeStatus(w, r, http.StatusOK, r.PathValue("id"))
}

// writeStatus answers with a warehouse, its workflow's state and its schedule.
func (s *Server) writeStatus(w http.ResponseWriter, r *http.Request, status int, id string) error {
	ctx := r.Context()
	wh, err := s.store.GetWarehouse(ctx, id)
	if err != nil {
		return err
	}
	out := WarehouseStatus{Warehouse: warehouseOut(wh), WorkflowID: workflows.WarehouseWorkflowID(id)}
	if st, err := s.query(ctx, id); err == nil {
		out.Status = &st
	} else {
		s.log.Warn("querying warehouse workflow", "warehouse", id, "err", err)
	}
	if d, err := s.temporal.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID(id)).Describe(ctx); err == nil {
		out.Paused = d.Schedule.State.Paused
		if !out.Paused {
			out.NextSyncs = d.Info.NextActionTimes
		}
	}
	return writeJSON(w, status, out)
}

func (s *Server) query(ctx context.Context, id string) (workflows.WarehouseState, error) {
	var st workflows.WarehouseState
	v, err := s.temporal.QueryWorkflow(ctx, workflows.WarehouseWorkflowID(id), "", workflows.QueryState)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// awaitState polls the warehouse workflow until done holds.
func (s *Server) awaitState(ctx context.Context, id string, done func(workflows.WarehouseState) bool) (workflows.WarehouseState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.WaitTimeout)
	defer cancel()
	for {
		st, err := s.query(ctx, id)
		if err == nil && done(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// update sends an Update to a warehouse's workflow and waits for its result.
func (s *Server) update(ctx context.Context, id, name string, arg, result any) error {
	if _, err := s.store.GetWarehouse(ctx, id); err != nil {
		return err
	}
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.WarehouseWorkflowID(id),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, result)
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return &httpError{http.StatusNotFound, "the warehouse's workflow is not running"}
	}
	return err
}

// simpleUpdate handles the updates whose only argument is the actor.
func (s *Server) simpleUpdate(name string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var st workflows.WarehouseState
		if err := s.update(r.Context(), r.PathValue("id"), name, actorOf(r), &st); err != nil {
			return err
		}
		s.log.Info("warehouse "+name, "warehouse", r.PathValue("id"), "by", actorOf(r).Name)
		return s.writeStatus(w, r, http.StatusOK, r.PathValue("id"))
	}
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) error {
	return s.simpleUpdate(workflows.UpdateApprove)(w, r)
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request) error {
	var in Reject
	if err := decode(r, &in); err != nil {
		return err
	}
	var st workflows.WarehouseState
	if err := s.update(r.Context(), r.PathValue("id"), workflows.UpdateReject,
		workflows.RejectInput{Actor: actorOf(r), Reason: in.Reason}, &st); err != nil {
		return err
	}
	return s.writeStatus(w, r, http.StatusOK, r.PathValue("id"))
}

func (s *Server) deleteWarehouse(w http.ResponseWriter, r *http.Request) error {
	var st workflows.WarehouseState
	if err := s.update(r.Context(), r.PathValue("id"), workflows.UpdateDelete, actorOf(r), &st); err != nil {
		return err
	}
	s.log.Info("warehouse deleted", "warehouse", r.PathValue("id"), "by", actorOf(r).Name)
	return writeJSON(w, http.StatusOK, st)
}

// retest stores a new password, if given, and tests the connection again.
func (s *Server) retest(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	var in Retest
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	before, err := s.query(ctx, id)
	if err != nil {
		return err
	}
	if in.Password != "" {
		if _, err := s.store.GetWarehouse(ctx, id); err != nil {
			return err
		}
		if err := s.store.PutCredentials(ctx, id, []byte(in.Password)); err != nil {
			return fmt.Errorf("storing credentials: %w", err)
		}
	}
	var st workflows.WarehouseState
	if err := s.update(ctx, id, workflows.UpdateRetest, actorOf(r), &st); err != nil {
		return err
	}
	// The update answers once the test ran; make sure the answer shows it.
	if _, err := s.awaitState(ctx, id, func(st workflows.WarehouseState) bool {
		return st.State != workflows.StateTesting && st.LastTest != nil &&
			(before.LastTest == nil || st.LastTest.TestedAt.After(before.LastTest.TestedAt))
	}); err != nil {
		return err
	}
	return s.writeStatus(w, r, http.StatusOK, id)
}

func (s *Server) setSchedule(w http.ResponseWriter, r *http.Request) error {
	var in SetSchedule
	if err := decode(r, &in); err != nil {
		return err
	}
	var st workflows.WarehouseState
	if err := s.update(r.Context(), r.PathValue("id"), workflows.UpdateSetSchedule,
		workflows.ScheduleChange{Actor: actorOf(r), Schedule: in.Schedule}, &st); err != nil {
		return err
	}
	return s.writeStatus(w, r, http.StatusOK, r.PathValue("id"))
}

// syncNow starts a sync through the schedule. With wait=1 it answers with the
// sync's report once it finished: the first report recorded in the store, by
// a sync that started after the request (give or take a second of clock
// skew between this process and Temporal), that was not there before.
func (s *Server) syncNow(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	since := time.Now().Add(-time.Second)
	known := map[string]bool{}
	if r.URL.Query().Get("wait") == "1" {
		runs, err := s.store.ListSyncRuns(ctx, id, 20)
		if err != nil {
			return err
		}
		for _, run := range runs {
			known[run.ID] = true
		}
	}
	var st workflows.WarehouseState
	if err := s.update(ctx, id, workflows.UpdateSyncNow, actorOf(r), &st); err != nil {
		return err
	}
	if r.URL.Query().Get("wait") != "1" {
		return writeJSON(w, http.StatusAccepted, st)
	}
	run, err := s.awaitReport(ctx, id, since, known)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, syncOut(run))
}

// awaitReport polls the store until a sync of the warehouse that started at
// or after since, and whose report is not one of known, has recorded its
// report.
func (s *Server) awaitReport(ctx context.Context, id string, since time.Time, known map[string]bool) (store.SyncRun, error) {
	ctx, cancel := context.WithTimeout(ctx, s.WaitTimeout)
	defer cancel()
	for {
		runs, err := s.store.ListSyncRuns(ctx, id, 20)
		if err == nil {
			// Newest first: the last match is the earliest.
			var found *store.SyncRun
			for i, run := range runs {
				if run.Kind == workflows.KindSync && !known[run.ID] && !run.StartedAt.Before(since) && run.Status != store.SyncRunning {
					found = &runs[i]
				}
			}
			if found != nil {
				return *found, nil
			}
		}
		select {
		case <-ctx.Done():
			return store.SyncRun{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) backfill(w http.ResponseWriter, r *http.Request) error {
	var in Backfill
	if err := decode(r, &in); err != nil {
		return err
	}
	var wfID string
	if err := s.update(r.Context(), r.PathValue("id"), workflows.UpdateBackfill,
		workflows.BackfillRequest{Actor: actorOf(r), From: in.From, To: in.To}, &wfID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, BackfillStarted{WorkflowID: wfID})
}

func (s *Server) listSyncs(w http.ResponseWriter, r *http.Request) error {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			return badRequest("limit %q: want 1 to 1000", v)
		}
		limit = n
	}
	if _, err := s.store.GetWarehouse(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	runs, err := s.store.ListSyncRuns(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	out := make([]Sync, 0, len(runs))
	for _, run := range runs {
		out = append(out, syncOut(run))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSync(w http.ResponseWriter, r *http.Request) error {
	run, err := s.store.GetSyncRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, syncOut(run))
}

// syncOut converts a report, adding the breakdown by table group.
func syncOut(run store.SyncRun) Sync {
	out := Sync{ID: run.ID, WarehouseID: run.WarehouseID, Kind: run.Kind, Status: run.Status,
		StartedAt: run.StartedAt, DurationMS: run.Duration.Milliseconds(), Rows: run.Rows, Errors: run.Errors}
	for _, t := range run.Tables {
		out.Tables = append(out.Tables, TableResult(t))
		switch t.Group {
		case store.GroupIdentity:
			out.IdentityRows += t.Rows
		case store.GroupEventType:
			out.EventTypeRows += t.Rows
		case store.GroupEvent:
			out.EventRows += t.Rows
		}
	}
	return out
}
