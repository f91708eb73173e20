package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/store"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfigDefaultsAndEnvironment(t *testing.T) {
	c, err := parseConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreDSN != ".data/profilesync.db" || c.HTTPAddr != "127.0.0.1:8080" || c.TemporalAddr != "127.0.0.1:7233" ||
		c.Namespace != "default" || c.DedupeWindow != 24*time.Hour || !c.Resolvers || !c.Temporal || c.ChunkSize != 50_000 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = parseConfig([]string{"-http", ":9000"}, env(map[string]string{
		"PROFILESYNC_STORE_DSN": "postgres://x", "PROFILESYNC_HTTP_ADDR": ":1", "TEMPORAL_NAMESPACE": "ns",
		"PROFILESYNC_DEDUPE_WINDOW": "1h", "PROFILESYNC_RESOLVERS": "false", "PROFILESYNC_CHUNK_SIZE": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreDSN != "postgres://x" || c.HTTPAddr != ":9000" || c.Namespace != "ns" || c.DedupeWindow != time.Hour || c.Resolvers || c.ChunkSize != 10 {
		t.Errorf("flags over environment over defaults: %+v", c)
	}
	if _, err := parseConfig(nil, env(map[string]string{"PROFILESYNC_DEDUPE_WINDOW": "soon"})); err == nil {
		t.Error("a bad dedupe window was accepted")
	}
}

func TestMasterKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for name, text := range map[string]string{"base64": base64.StdEncoding.EncodeToString(key), "hex": hex.EncodeToString(key)} {
		got, err := config{MasterKey: text}.masterKey()
		if err != nil || string(got) != string(key) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	file := filepath.Join(t.TempDir(), "key")
	os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
	if got, err := (config{MasterKeyFile: file}).masterKey(); err != nil || string(got) != string(key) {
		t.Errorf("from a file: %q, %v", got, err)
	}
	if _, err := (config{MasterKey: "dG9vIHNob3J0"}).masterKey(); err == nil || strings.Contains(err.Error(), "dG9v") {
		t.Errorf("a short key: %v", err)
	}
	if got, err := (config{}).masterKey(); got != nil || err != nil {
		t.Errorf("no key: %q, %v", got, err)
	}
}

func TestApplySpacesFile(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	file := filepath.Join(t.TempDir(), "spaces.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`spaces:
  - id: main
    name: Main
    rules:
      id_types: [{name: anonymous_id, limit: 3, window: weekly}]
    sources:
      - {id: web, name: Web, write_key: key-web}
`)
	for range 2 { // applying twice changes nothing
		if err := applySpacesFile(ctx, st, file); err != nil {
			t.Fatal(err)
		}
	}
	src, err := st.SourceByWriteKey(ctx, "key-web")
	if err != nil || src.SpaceID != "main" || src.Slug != "web" {
		t.Fatalf("source: %+v, %v", src, err)
	}
	write(`spaces:
  - id: main
    rules:
      id_types: [{name: anonymous_id, limit: 7, window: monthly}]
`)
	if err := applySpacesFile(ctx, st, file); err != nil {
		t.Fatal(err)
	}
	sp, err := st.GetSpace(ctx, "main")
	if err != nil || len(sp.Rules.IDTypes) != 1 || sp.Rules.IDTypes[0].Limit != 7 {
		t.Fatalf("rules after a change: %+v, %v", sp.Rules, err)
	}
	write(`spaces: [{id: bad, rules: {id_types: [{name: email, window: fortnightly}]}}]`)
	if err := applySpacesFile(ctx, st, file); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("invalid rules: %v", err)
	}
}
