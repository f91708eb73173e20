package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/store"
)

// spacesFile is the YAML file of spaces applied at start:
//
//	spaces:
//	  - id: main
//	    name: Main
//	    rules:
//	      recommended_blocked: true
//	      id_types:
//	        - {name: user_id, limit: 1, window: ever}
//	        - {name: anonymous_id, limit: 5, window: weekly}
//	    sources:
//	      - {id: web, name: Web, write_key: "…"}
type spacesFile struct {
	Spaces []struct {
		ID      string         `yaml:"id"`
		Name    string         `yaml:"name"`
		Rules   identity.Rules `yaml:"rules"`
		Sources []struct {
			ID       string `yaml:"id"`
			Name     string `yaml:"name"`
			Slug     string `yaml:"slug"`
			WriteKey string `yaml:"write_key"`
		} `yaml:"sources"`
	} `yaml:"spaces"`
}

// applySpacesFile creates the spaces and sources of a spaces file that do not
// exist yet and replaces the rules of those that do.
func applySpacesFile(ctx context.Context, st store.Store, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading spaces file: %w", err)
	}
	var f spacesFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("parsing spaces file %s: %w", path, err)
	}
	for _, sp := range f.Spaces {
		if _, err := identity.CompileRules(sp.Rules); err != nil {
			return fmt.Errorf("space %s: %w", sp.ID, err)
		}
		err := st.CreateSpace(ctx, store.Space{ID: sp.ID, Name: sp.Name, Rules: sp.Rules})
		if errors.Is(err, store.ErrConflict) {
			err = st.UpdateSpaceRules(ctx, sp.ID, sp.Rules)
		}
		if err != nil {
			return fmt.Errorf("space %s: %w", sp.ID, err)
		}
		for _, src := range sp.Sources {
			if src.WriteKey == "" {
				return fmt.Errorf("space %s: source %s has no write_key", sp.ID, src.ID)
			}
			slug := src.Slug
			if slug == "" {
				slug = src.ID
			}
			err := st.CreateSource(ctx, store.Source{ID: src.ID, SpaceID: sp.ID, Name: src.Name, Slug: slug}, src.WriteKey)
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("space %s: source %s: %w", sp.ID, src.ID, err)
			}
		}
	}
	return nil
}
