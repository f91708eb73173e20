package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeUsesKnownSettings checks that docker-compose.yml configures the
// app only with environment variables the worker reads.
func TestComposeUsesKnownSettings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("parsing docker-compose.yml: %v", err)
	}
	app, ok := compose.Services["profilesync"]
	if !ok || len(app.Environment) == 0 {
		t.Fatal("docker-compose.yml has no profilesync service with an environment")
	}
	read := map[string]bool{}
	if _, err := parseConfig(nil, func(k string) string { read[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	for k := range app.Environment {
		if !read[k] {
			t.Errorf("docker-compose.yml sets %s, which the worker does not read", k)
		}
	}
	for _, k := range []string{"PROFILESYNC_STORE_DSN", "TEMPORAL_ADDRESS", "PROFILESYNC_MASTER_KEY", "PROFILESYNC_TOKENS"} {
		if _, ok := app.Environment[k]; !ok {
			t.Errorf("docker-compose.yml does not set %s", k)
		}
	}
	if dsn := app.Environment["PROFILESYNC_STORE_DSN"]; !strings.HasPrefix(dsn, "postgres://") {
		t.Errorf("the compose store is not PostgreSQL: %s", dsn)
	}
}
