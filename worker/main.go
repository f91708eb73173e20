// Command profilesync-worker is the Profiles Sync server: the ingest API, the
// identity resolvers, the admin API and the Temporal worker that runs the
// warehouse workflows, in one process. Each part can be turned off to scale
// them separately.
//
// Configuration comes from flags, each defaulting to an environment variable;
// see -help and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/profilesync/profilesync/admin"
	"github.com/profilesync/profilesync/ingest"
	"github.com/profilesync/profilesync/resolver"
	"github.com/profilesync/profilesync/store"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "profilesync-worker:", err)
		os.Exit(2)
	}
	logger := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("worker stopped", "err", err)
		os.Exit(1)
	}
}

func newLogger(cfg config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	key, err := cfg.masterKey()
	if err != nil {
		return err
	}
	if key == nil {
		logger.Warn("no master key configured: warehouse credentials cannot be stored or read")
	}
	if !strings.Contains(cfg.StoreDSN, "://") {
		if err := os.MkdirAll(filepath.Dir(cfg.StoreDSN), 0o700); err != nil {
			return fmt.Errorf("creating store folder: %w", err)
		}
	}
	st, err := store.Open(ctx, cfg.StoreDSN, store.Options{MasterKey: key, Logger: logger})
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	if cfg.SpacesFile != "" {
		if err := applySpacesFile(ctx, st, cfg.SpacesFile); err != nil {
			return err
		}
	}

	// Resolvers, woken by the ingest API as events arrive.
	var notify func(spaceID string)
	done := make(chan struct{})
	if cfg.Resolvers {
		mgr := resolver.NewManager(st, resolver.Options{Logger: logger})
		notify = mgr.Notify
		go func() {
			defer close(done)
			if err := mgr.Run(ctx); err != nil {
				logger.Error("resolvers stopped", "err", err)
			}
		}()
	} else {
		close(done)
	}

	go runJanitor(ctx, st, cfg.DedupeWindow, 10*time.Minute, time.Now, logger.With("component", "janitor"))

	ing := ingest.NewServer(ingest.Config{DedupeWindow: cfg.DedupeWindow},
		st, notifyingInbox{Inbox: st, notify: notify}, logger.With("component", "ingest"))
	ing.Start()

	mux := http.NewServeMux()
	mux.Handle("/v1/", ing)

	// The Temporal worker and the admin API, which drives the workflows.
	var tw worker.Worker
	if cfg.Temporal {
		tc, err := dialTemporal(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer tc.Close()
		if err := registerSearchAttributes(ctx, tc, cfg.Namespace); err != nil {
			return err
		}
		tw = newWorker(tc, cfg, st, logger)
		if err := tw.Start(); err != nil {
			return fmt.Errorf("starting the Temporal worker: %w", err)
		}
		tokens, err := cfg.tokens()
		if err != nil {
			return err
		}
		if tokens.Len() == 0 {
			logger.Warn("no admin tokens configured (PROFILESYNC_TOKENS): the admin API refuses every request")
		}
		mux.Handle("/admin/", admin.NewServer(st, tc, tokens, cfg.TaskQueue, logger.With("component", "admin")))
		logger.Info("temporal worker started", "address", cfg.TemporalAddr, "namespace", cfg.Namespace, "task_queue", cfg.TaskQueue)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})

	srv := &http.Server{Addr: cfg.HTTPAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.HTTPAddr, err)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "store", storeKind(cfg.StoreDSN))
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serving HTTP: %w", err)
	}
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		logger.Error("shutting down HTTP", "err", err)
	}
	if err := ing.Close(shutdown); err != nil {
		logger.Error("draining ingest", "err", err)
	}
	if tw != nil {
		tw.Stop()
	}
	<-done
	return nil
}

// storeKind names the store backend without revealing the DSN.
func storeKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
}

// notifyingInbox wakes the resolvers of the spaces that received events.
type notifyingInbox struct {
	ingest.Inbox
	notify func(spaceID string)
}

func (n notifyingInbox) Append(ctx context.Context, events []store.InboxEvent, window time.Duration) ([]bool, error) {
	ok, err := n.Inbox.Append(ctx, events, window)
	if err == nil && n.notify != nil {
		last := ""
		for _, e := range events {
			if e.SpaceID != last {
				n.notify(e.SpaceID)
				last = e.SpaceID
			}
		}
	}
	return ok, err
}
