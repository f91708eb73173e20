package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/profilesync/profilesync/store"
)

// Sources finds the source a write key belongs to. store.Spaces satisfies it.
type Sources interface {
	// SourceByWriteKey returns the source of a write key, or an error
	// matching store.ErrNotFound when no source has it.
	SourceByWriteKey(ctx context.Context, writeKey string) (store.Source, error)
}

// Inbox durably stores accepted events. store.Inbox satisfies it.
type Inbox interface {
	// Append stores events in one transaction, skipping those whose
	// (SourceID, MessageID) was seen within dedupeWindow, and reports per
	// event whether it was new (true) or a duplicate (false).
	Append(ctx context.Context, events []store.InboxEvent, dedupeWindow time.Duration) ([]bool, error)
}

// Defaults and fixed limits of the API.
const (
	DefaultDedupeWindow   = 24 * time.Hour
	DefaultMaxEventBytes  = 32 << 10  // 32 KB: one event, and a single call's body
	DefaultMaxBatchBytes  = 500 << 10 // 500 KB: a batch body
	DefaultMaxBatchEvents = 2500
	DefaultFlushEvents    = 2000
	DefaultFlushLinger    = 2 * time.Millisecond
	DefaultAppendTimeout  = 10 * time.Second
	DefaultSourceCacheTTL = time.Minute

	// MaxMessageIDLength is the longest messageId accepted, in characters.
	MaxMessageIDLength = 100
	// StampAllowance is how much a stored event may exceed MaxEventBytes:
	// room for the receivedAt, sentAt, originalTimestamp and timestamp
	// fields the server writes, so that every event a Segment library
	// accepts as under 32 KB is accepted here too.
	StampAllowance = 512
)

// Config tunes a Server. The zero value of every field means its default.
type Config struct {
	// DedupeWindow is how long a messageId is remembered per source.
	DedupeWindow time.Duration
	// MaxEventBytes limits one event (each batch item, and the body of a
	// single call). MaxBatchBytes limits a batch body and MaxBatchEvents
	// its number of items. Body limits apply after gzip decompression.
	MaxEventBytes  int
	MaxBatchBytes  int
	MaxBatchEvents int
	// FlushEvents and FlushLinger drive group commit: events of concurrent
	// requests are appended together once FlushEvents are waiting, or
	// FlushLinger after the first of them arrived. A negative FlushLinger
	// appends whatever is waiting without delay.
	FlushEvents int
	FlushLinger time.Duration
	// AppendTimeout bounds one Inbox.Append call.
	AppendTimeout time.Duration
	// SourceCacheTTL is how long a write key's source is remembered; a
	// negative value looks every request up. Unknown keys are never cached.
	SourceCacheTTL time.Duration
	// Now is the server clock (receivedAt); time.Now by default.
	Now func() time.Time
}

// withDefaults fills in the zero fields of c.
func (c Config) withDefaults() Config {
	setDefault(&c.DedupeWindow, DefaultDedupeWindow)
	setDefault(&c.MaxEventBytes, DefaultMaxEventBytes)
	setDefault(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	setDefault(&c.MaxBatchEvents, DefaultMaxBatchEvents)
	setDefault(&c.FlushEvents, DefaultFlushEvents)
	setDefault(&c.FlushLinger, DefaultFlushLinger)
	setDefault(&c.AppendTimeout, DefaultAppendTimeout)
	setDefault(&c.SourceCacheTTL, DefaultSourceCacheTTL)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server is the HTTP Tracking API. It is an http.Handler; call Start before
// serving and Close after the HTTP server has shut down.
type Server struct {
	cfg       Config
	lim       limits
	sources   *sourceCache
	committer *committer
	logger    *slog.Logger
	stats     counters
}

// NewServer returns a Server that authenticates write keys with sources and
// appends accepted events to inbox. A nil logger discards logs.
func NewServer(cfg Config, sources Sources, inbox Inbox, logger *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg,
		lim: limits{
			maxEventBytes:  cfg.MaxEventBytes,
			maxBatchBytes:  cfg.MaxBatchBytes,
			maxBatchEvents: cfg.MaxBatchEvents,
		},
		sources: newSourceCache(sources, cfg.SourceCacheTTL, cfg.Now),
		logger:  logger,
	}
	s.committer = newCommitter(inbox, cfg, logger, &s.stats)
	return s
}

// Start starts the committer that appends events to the inbox. Until it is
// called, requests with events answer 503. Calling it again does nothing.
func (s *Server) Start() { s.committer.start() }

// Close stops accepting events, appends those already queued, and waits for
// the committer to finish or ctx to end. Requests arriving after Close answer
// 503. Shut the HTTP server down first (http.Server.Shutdown), so that no
// request is left between the two.
func (s *Server) Close(ctx context.Context) error { return s.committer.close(ctx) }

// Stats counts what the server did since it was created.
type Stats struct {
	Requests     int64 // requests to an API route, preflights excluded
	Events       int64 // events appended, duplicates included
	Duplicates   int64 // appended events the inbox dropped as duplicates
	Rejected     int64 // events rejected by validation
	Flushes      int64 // Inbox.Append calls
	AppendErrors int64 // Inbox.Append calls that failed
}

type counters struct {
	requests, events, duplicates, rejected, flushes, appendErrors atomic.Int64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:     s.stats.requests.Load(),
		Events:       s.stats.events.Load(),
		Duplicates:   s.stats.duplicates.Load(),
		Rejected:     s.stats.rejected.Load(),
		Flushes:      s.stats.flushes.Load(),
		AppendErrors: s.stats.appendErrors.Load(),
	}
}

// Response is the JSON body of every answer.
type Response struct {
	Success bool `json:"success"`
	// Error says why the request failed, or how many events were rejected.
	Error string `json:"error,omitempty"`
	// Accepted is the number of events kept, set when some were rejected.
	Accepted *int `json:"accepted,omitempty"`
	// Rejected lists the events that were not kept, and why.
	Rejected []Rejection `json:"rejected,omitempty"`
}

// Rejection names one rejected event of a request.
type Rejection struct {
	Index     int    `json:"index"`               // position in batch[] (0 for a single call)
	MessageID string `json:"messageId,omitempty"` // as sent, if it was a string or number
	Error     string `json:"error"`
}

// ServeHTTP routes a request: POST to an API route is a call, OPTIONS is a
// CORS preflight, anything else is an error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header(), r)
	rt, ok := routeFor(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, Response{Error: "no such endpoint; POST to /v1/{identify,track,page,screen,group,alias,batch}"})
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		preflight(w.Header(), r)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		writeJSON(w, http.StatusMethodNotAllowed, Response{Error: "method not allowed; use POST"})
		return
	}

	s.stats.requests.Add(1)
	start := time.Now()
	out := s.handle(w, r, rt)
	writeJSON(w, out.status, out.resp)

	// Counts and fixed codes only: never bodies, values or write keys.
	attrs := []any{
		"route", string(rt), "status", out.status, "events", out.events,
		"rejected", out.rejected, "duplicates", out.duplicates,
		"source_id", out.source.ID, "space_id", out.source.SpaceID,
		"duration", time.Since(start),
	}
	switch {
	case out.err != nil:
		s.logger.Error("ingest request failed", append(attrs, "reason", out.reason, "error", out.err)...)
	case out.status >= 400:
		s.logger.Info("ingest request refused", append(attrs, "reason", out.reason)...)
	default:
		s.logger.Debug("ingest request", attrs...)
	}
}

// outcome is what handle decided, with the counts that are logged.
type outcome struct {
	status                       int
	reason                       string // a fixed code for logs
	resp                         Response
	source                       store.Source
	events, rejected, duplicates int
	err                          error // an internal failure, logged (never sent)
}

// refuse answers a request with an error and stores nothing.
func refuse(status int, reason, msg string) outcome {
	return outcome{status: status, reason: reason, resp: Response{Error: msg}}
}

// refuseWith answers with a requestError.
func refuseWith(e *requestError) outcome { return refuse(e.status, e.reason, e.msg) }

// handle runs one call: content type, authentication, body, parsing and
// validation, then the append, and decides the answer.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rt route) outcome {
	ctx := r.Context()
	receivedAt := s.cfg.Now().UTC().Truncate(time.Millisecond)

	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return refuseWith(err)
	}

	// A write key in the Authorization header is checked before the body is
	// read; one in the body only after it is parsed.
	headerKey, err := basicWriteKey(r.Header.Get("Authorization"))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="write key"`)
		return refuseWith(err)
	}
	var src store.Source
	if headerKey != "" {
		var out *outcome
		if src, out = s.authenticate(ctx, w, headerKey); out != nil {
			return *out
		}
	}

	limit := s.lim.maxEventBytes
	if rt == routeBatch {
		limit = s.lim.maxBatchBytes
	}
	body, rerr := readBody(w, r, limit)
	if rerr != nil {
		return refuseWith(rerr)
	}
	req, rerr := decodeRequest(body, rt, s.lim)
	if rerr != nil {
		return refuseWith(rerr)
	}
	if headerKey == "" {
		if req.writeKey == "" {
			return unauthorized(w, "missing_write_key",
				"missing write key: send it as the HTTP Basic user name (empty password) or as writeKey in the JSON body")
		}
		var out *outcome
		if src, out = s.authenticate(ctx, w, req.writeKey); out != nil {
			return *out
		}
	}

	p := req.parse(receivedAt, s.lim)
	if p.err != nil {
		out := refuseWith(p.err)
		out.source = src
		return out
	}
	s.stats.rejected.Add(int64(len(p.rejected)))
	out := outcome{source: src, events: len(p.events), rejected: len(p.rejected)}

	if len(p.events) > 0 {
		events := make([]store.InboxEvent, len(p.events))
		for i, e := range p.events {
			events[i] = store.InboxEvent{
				SpaceID:    src.SpaceID,
				SourceID:   src.ID,
				MessageID:  e.MessageID,
				Type:       e.Type,
				ReceivedAt: receivedAt,
				Timestamp:  e.Timestamp,
				Payload:    e.Payload,
			}
		}
		accepted, err := s.committer.submit(ctx, events)
		if err != nil {
			out.status = http.StatusServiceUnavailable
			switch {
			case errors.Is(err, errNotRunning):
				out.reason, out.resp.Error = "shutting_down", "the server is shutting down; retry"
			case ctx.Err() != nil:
				out.reason, out.resp.Error = "cancelled", "request cancelled"
			default:
				out.reason, out.resp.Error = "inbox_failed", "the inbox is unavailable; nothing was stored, retry"
				out.err = err
			}
			return out
		}
		for _, ok := range accepted {
			if !ok {
				out.duplicates++
			}
		}
	}

	if len(p.rejected) > 0 {
		accepted := len(p.events)
		out.status, out.reason = http.StatusBadRequest, "rejected_events"
		out.resp.Accepted = &accepted
		out.resp.Rejected = p.rejected
		if rt == routeBatch {
			out.resp.Error = fmt.Sprintf("%d of %d events rejected; the other %d were accepted",
				len(p.rejected), len(p.rejected)+accepted, accepted)
		} else {
			out.resp.Error = p.rejected[0].Error
		}
		return out
	}
	out.status = http.StatusOK
	out.resp.Success = true
	return out
}

// authenticate finds the source of a write key; on failure it returns the
// outcome to answer with.
func (s *Server) authenticate(ctx context.Context, w http.ResponseWriter, key string) (store.Source, *outcome) {
	src, err := s.sources.lookup(ctx, key)
	switch {
	case err == nil:
		return src, nil
	case errors.Is(err, store.ErrNotFound):
		out := unauthorized(w, "unknown_write_key", "unknown write key")
		return src, &out
	default:
		out := refuse(http.StatusServiceUnavailable, "lookup_failed", "could not check the write key; nothing was stored, retry")
		out.err = fmt.Errorf("looking up write key: %w", err)
		return src, &out
	}
}

// unauthorized answers 401, inviting Basic authentication.
func unauthorized(w http.ResponseWriter, reason, msg string) outcome {
	w.Header().Set("WWW-Authenticate", `Basic realm="write key"`)
	return refuse(http.StatusUnauthorized, reason, msg)
}

// setCORS lets browsers on any origin read the answers.
func setCORS(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

// preflight answers a CORS preflight for a POST.
func preflight(h http.Header, r *http.Request) {
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	allow := r.Header.Get("Access-Control-Request-Headers")
	if allow == "" {
		allow = "Content-Type, Authorization, Content-Encoding"
	}
	h.Set("Access-Control-Allow-Headers", allow)
	h.Set("Access-Control-Max-Age", "86400")
	h.Add("Vary", "Access-Control-Request-Headers")
}

// writeJSON sends resp with the given status.
func writeJSON(w http.ResponseWriter, status int, resp Response) {
	b, err := json.Marshal(resp)
	if err != nil { // cannot happen: Response has only plain fields
		b = []byte(`{"success":false,"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// routeFor maps a request path to its route. The short paths are the ones
// analytics.js (analytics-next) posts to: the first letter of the call type
// in standard delivery, and /b with the batching strategy.
func routeFor(path string) (route, bool) {
	p, ok := strings.CutPrefix(strings.TrimSuffix(path, "/"), "/v1/")
	if !ok {
		return "", false
	}
	switch p {
	case "identify", "i":
		return typeIdentify, true
	case "track", "t":
		return typeTrack, true
	case "page", "p":
		return typePage, true
	case "screen", "s":
		return typeScreen, true
	case "group", "g":
		return typeGroup, true
	case "alias", "a":
		return typeAlias, true
	case "batch", "b", "import":
		return routeBatch, true
	}
	return "", false
}
