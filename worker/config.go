package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/profilesync/profilesync/admin"
)

// config is the worker's configuration: flags, each defaulting to an
// environment variable, each with a default that suits the embedded setup.
type config struct {
	StoreDSN      string
	HTTPAddr      string
	TemporalAddr  string
	Namespace     string
	TaskQueue     string
	MasterKey     string
	MasterKeyFile string
	Tokens        string
	TokensFile    string
	SpacesFile    string
	DedupeWindow  time.Duration
	Resolvers     bool
	Temporal      bool
	ChunkSize     int
	LogFormat     string
	LogLevel      string
}

// parseConfig reads flags from args with defaults from getenv.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	envBool := func(key string, def bool) bool {
		switch strings.ToLower(getenv(key)) {
		case "1", "true", "yes", "on":
			return true
		case "0", "false", "no", "off":
			return false
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("profilesync-worker", flag.ContinueOnError)
	fs.StringVar(&c.StoreDSN, "store", env("PROFILESYNC_STORE_DSN", ".data/profilesync.db"), "profile store: a postgres:// DSN or a SQLite file path (PROFILESYNC_STORE_DSN)")
	fs.StringVar(&c.HTTPAddr, "http", env("PROFILESYNC_HTTP_ADDR", "127.0.0.1:8080"), "listen address of the ingest and admin API (PROFILESYNC_HTTP_ADDR)")
	fs.StringVar(&c.TemporalAddr, "temporal-address", env("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port (TEMPORAL_ADDRESS)")
	fs.StringVar(&c.Namespace, "namespace", env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.TaskQueue, "task-queue", env("PROFILESYNC_TASK_QUEUE", "profilesync"), "Temporal task queue (PROFILESYNC_TASK_QUEUE)")
	fs.StringVar(&c.MasterKey, "master-key", "", "32-byte key encrypting warehouse credentials, base64 or hex (PROFILESYNC_MASTER_KEY; prefer the environment or a file)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", env("PROFILESYNC_MASTER_KEY_FILE", ""), "file holding the master key (PROFILESYNC_MASTER_KEY_FILE)")
	fs.StringVar(&c.Tokens, "tokens", "", "admin API tokens as comma-separated role:token pairs (PROFILESYNC_TOKENS)")
	fs.StringVar(&c.TokensFile, "tokens-file", env("PROFILESYNC_TOKENS_FILE", ""), "file of role:token lines (PROFILESYNC_TOKENS_FILE)")
	fs.StringVar(&c.SpacesFile, "spaces", env("PROFILESYNC_SPACES_FILE", ""), "YAML file of spaces, their rules, sources and write keys to create or update at start (PROFILESYNC_SPACES_FILE)")
	fs.DurationVar(&c.DedupeWindow, "dedupe-window", 24*time.Hour, "how long a messageId is remembered per source (PROFILESYNC_DEDUPE_WINDOW)")
	fs.BoolVar(&c.Resolvers, "resolvers", envBool("PROFILESYNC_RESOLVERS", true), "run the identity resolvers in this process (PROFILESYNC_RESOLVERS)")
	fs.BoolVar(&c.Temporal, "temporal", envBool("PROFILESYNC_TEMPORAL", true), "run the Temporal worker in this process (PROFILESYNC_TEMPORAL)")
	fs.IntVar(&c.ChunkSize, "chunk-size", envInt(getenv, "PROFILESYNC_CHUNK_SIZE", 50_000), "rows per loaded chunk: each is one warehouse transaction (PROFILESYNC_CHUNK_SIZE)")
	fs.StringVar(&c.LogFormat, "log-format", env("PROFILESYNC_LOG_FORMAT", "text"), "log format: text or json (PROFILESYNC_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("PROFILESYNC_LOG_LEVEL", "info"), "log level: debug, info, warn, error (PROFILESYNC_LOG_LEVEL)")
	if v := getenv("PROFILESYNC_DEDUPE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("PROFILESYNC_DEDUPE_WINDOW: %w", err)
		}
		c.DedupeWindow = d
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.MasterKey == "" {
		c.MasterKey = getenv("PROFILESYNC_MASTER_KEY")
	}
	if c.Tokens == "" {
		c.Tokens = getenv("PROFILESYNC_TOKENS")
	}
	if c.DedupeWindow <= 0 {
		return c, errors.New("dedupe window must be positive")
	}
	return c, nil
}

// envInt reads a positive integer from the environment, or def.
func envInt(getenv func(string) string, key string, def int) int {
	if n, err := strconv.Atoi(getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// masterKey returns the decoded master key, or nil when none is configured.
func (c config) masterKey() ([]byte, error) {
	text := c.MasterKey
	if text == "" && c.MasterKeyFile != "" {
		b, err := os.ReadFile(c.MasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading master key file: %w", err)
		}
		text = string(b)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	if len(text) == 64 {
		if k, err := hex.DecodeString(text); err == nil {
			return k, nil
		}
	}
	k, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(k) != 32 {
		return nil, errors.New("master key must be 32 bytes, base64 or hex encoded")
	}
	return k, nil
}

// tokens returns the admin API tokens of the configuration.
func (c config) tokens() (*admin.Tokens, error) {
	t, err := admin.ParseTokens(c.Tokens)
	if err != nil {
		return nil, fmt.Errorf("PROFILESYNC_TOKENS: %w", err)
	}
	if c.TokensFile != "" {
		f, err := os.Open(c.TokensFile)
		if err != nil {
			return nil, fmt.Errorf("opening tokens file: %w", err)
		}
		defer f.Close()
		if err := t.ReadTokens(f); err != nil {
			return nil, fmt.Errorf("tokens file %s: %w", c.TokensFile, err)
		}
	}
	return t, nil
}
