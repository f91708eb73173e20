// Package admin is the admin API: spaces, sources, warehouses and their
// lifecycle, syncs and reports, over HTTP with bearer tokens.
//
// Every request carries "Authorization: Bearer <token>". A token has a role:
// viewer (read), admin (manage warehouses, spaces and sources) or staff
// (approve and reject warehouses, and everything an admin may do). Lifecycle
// commands become Temporal Updates of the warehouse's workflow, which checks
// the caller's role and the warehouse's state itself, so the same rules hold
// when an operator sends the Update with the temporal CLI.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// Server is the admin API, an http.Handler.
type Server struct {
	store     store.Store
	temporal  client.Client
	tokens    *Tokens
	taskQueue string
	log       *slog.Logger
	mux       *http.ServeMux
	// WaitTimeout bounds how long a request waits for a workflow to reach a
	// state (a connection test, a sync with wait=1).
	WaitTimeout time.Duration
}

// NewServer returns the admin API over a store and a Temporal client whose
// workflows run on taskQueue.
func NewServer(st store.Store, tc client.Client, tokens *Tokens, taskQueue string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: st, temporal: tc, tokens: tokens, taskQueue: taskQueue, log: logger,
		mux: http.NewServeMux(), WaitTimeout: 10 * time.Minute}
	viewer, admin, staff := workflows.RoleViewer, workflows.RoleAdmin, workflows.RoleStaff
	s.handle("GET /admin/v1/spaces", viewer, s.listSpaces)
	s.handle("POST /admin/v1/spaces", admin, s.addSpace)
	s.handle("GET /admin/v1/spaces/{space}", viewer, s.getSpace)
	s.handle("GET /admin/v1/spaces/{space}/sources", viewer, s.listSources)
	s.handle("POST /admin/v1/spaces/{space}/sources", admin, s.addSource)
	s.handle("GET /admin/v1/warehouses", viewer, s.listWarehouses)
	s.handle("POST /admin/v1/warehouses", admin, s.addWarehouse)
	s.handle("GET /admin/v1/warehouses/{id}", viewer, s.warehouseStatus)
	s.handle("DELETE /admin/v1/warehouses/{id}", admin, s.deleteWarehouse)
	s.handle("POST /admin/v1/warehouses/{id}/test", admin, s.retest)
	s.handle("POST /admin/v1/warehouses/{id}/approve", staff, s.approve)
	s.handle("POST /admin/v1/warehouses/{id}/reject", staff, s.reject)
	s.handle("POST /admin/v1/warehouses/{id}/disable", admin, s.simpleUpdate(workflows.UpdateDisable))
	s.handle("POST /admin/v1/warehouses/{id}/enable", admin, s.simpleUpdate(workflows.UpdateEnable))
	s.handle("PUT /admin/v1/warehouses/{id}/schedule", admin, s.setSchedule)
	s.handle("POST /admin/v1/warehouses/{id}/sync", admin, s.syncNow)
	s.handle("POST /admin/v1/warehouses/{id}/backfill", admin, s.backfill)
	s.handle("GET /admin/v1/warehouses/{id}/syncs", viewer, s.listSyncs)
	s.handle("GET /admin/v1/warehouses/{id}/tables", viewer, s.listTables)
	s.handle("PUT /admin/v1/warehouses/{id}/tables/{table}", admin, s.setSelection)
	s.handle("GET /admin/v1/syncs/{id}", viewer, s.getSync)
	return s
}

// ServeHTTP serves the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type actorKey struct{}

// handle registers a route that needs at least the role need. Approve and
// reject are registered as staff routes, but the workflow's validator is what
// enforces the rule: the route only fails fast.
func (s *Server) handle(pattern, need string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		actor, ok := s.tokens.Actor(strings.TrimSpace(token))
		if !ok {
			writeError(w, http.StatusUnauthorized, "unknown token")
			return
		}
		if !allowed(actor.Role, need) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not do this; it needs %s", actor.Role, need))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), actorKey{}, actor))
		if err := h(w, r); err != nil {
			status, msg := classify(err)
			if status >= 500 {
				s.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, status, msg)
		}
	})
}

func actorOf(r *http.Request) workflows.Actor { return r.Context().Value(actorKey{}).(workflows.Actor) }

// httpError is an error with an HTTP status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// classify maps an error to a status and a message fit for the caller.
func classify(err error) (int, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.msg
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case workflows.ErrTypeForbidden:
			return http.StatusForbidden, app.Message()
		case workflows.ErrTypeInvalidState:
			return http.StatusConflict, app.Message()
		case workflows.ErrTypeInvalidArgument:
			return http.StatusBadRequest, app.Message()
		case workflows.ErrTypeOperationFailed:
			return http.StatusBadGateway, app.Message()
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "already exists"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timed out waiting for the workflow"
	}
	return http.StatusInternalServerError, "internal error"
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

// decode reads a JSON body of at most 1 MiB into v.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %v", err)
	}
	return nil
}
