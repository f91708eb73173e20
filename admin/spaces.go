package admin

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"regexp"

	"github.com/profilesync/profilesync/identity"
	"github.com/profilesync/profilesync/store"
)

// validID matches space, source and warehouse ids: they end up in schema
// names, workflow ids and URLs.
var validID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func (s *Server) listSpaces(w http.ResponseWriter, r *http.Request) error {
	spaces, err := s.store.ListSpaces(r.Context())
	if err != nil {
		return err
	}
	out := make([]Space, 0, len(spaces))
	for _, sp := range spaces {
		out = append(out, spaceOut(sp))
	}
	return writeJSON(w, http.StatusOK, out)
}

func spaceOut(sp store.Space) Space {
	return Space{ID: sp.ID, Name: sp.Name, Rules: sp.Rules, CreatedAt: sp.CreatedAt}
}

func (s *Server) addSpace(w http.ResponseWriter, r *http.Request) error {
	var in Space
	if err := decode(r, &in); err != nil {
		return err
	}
	if !validID.MatchString(in.ID) {
		return badRequest("space id %q: use 1-63 lowercase letters, digits and underscores, starting with a letter", in.ID)
	}
	if in.Name == "" {
		in.Name = in.ID
	}
	if _, err := identity.CompileRules(in.Rules); err != nil {
		return badRequest("rules: %v", err)
	}
	if err := s.store.CreateSpace(r.Context(), store.Space{ID: in.ID, Name: in.Name, Rules: in.Rules}); err != nil {
		return err
	}
	sp, err := s.store.GetSpace(r.Context(), in.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, spaceOut(sp))
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request) error {
	sp, err := s.store.GetSpace(r.Context(), r.PathValue("space"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, spaceOut(sp))
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.store.GetSpace(r.Context(), r.PathValue("space")); err != nil {
		return err
	}
	srcs, err := s.store.ListSources(r.Context(), r.PathValue("space"))
	if err != nil {
		return err
	}
	out := make([]Source, 0, len(srcs))
	for _, src := range srcs {
		out = append(out, sourceOut(src))
	}
	return writeJSON(w, http.StatusOK, out)
}

func sourceOut(src store.Source) Source {
	return Source{ID: src.ID, SpaceID: src.SpaceID, Name: src.Name, Slug: src.Slug, CreatedAt: src.CreatedAt}
}

// addSource creates a source with a new random write key, shown only in this
// answer.
func (s *Server) addSource(w http.ResponseWriter, r *http.Request) error {
	spaceID := r.PathValue("space")
	if _, err := s.store.GetSpace(r.Context(), spaceID); err != nil {
		return err
	}
	var in Source
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ID == "" {
		in.ID = spaceID + "_" + randomID(6)
	}
	if !validID.MatchString(in.ID) {
		return badRequest("source id %q: use 1-63 lowercase letters, digits and underscores, starting with a letter", in.ID)
	}
	if in.Name == "" {
		in.Name = in.ID
	}
	if in.Slug == "" {
		in.Slug = in.ID
	}
	key := randomKey()
	src := store.Source{ID: in.ID, SpaceID: spaceID, Name: in.Name, Slug: in.Slug}
	if err := s.store.CreateSource(r.Context(), src, key); err != nil {
		return err
	}
	src, err := s.store.GetSource(r.Context(), in.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, NewSource{Source: sourceOut(src), WriteKey: key})
}

// randomKey returns a new write key: 32 random base64url characters.
func randomKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomID returns n random lowercase letters and digits.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
