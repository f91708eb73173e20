package admin

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/profilesync/profilesync/workflows"
)

// rank orders the roles from least to most privileged: each role may do what
// the roles below it may. Unknown roles rank 0.
func rank(role string) int {
	switch role {
	case workflows.RoleViewer:
		return 1
	case workflows.RoleAdmin:
		return 2
	case workflows.RoleStaff:
		return 3
	}
	return 0
}

// Tokens authenticates bearer tokens. Only SHA-256 hashes of the tokens are
// kept in memory.
type Tokens struct {
	byHash map[[32]byte]workflows.Actor
}

// ParseTokens reads role:token pairs separated by commas or newlines; blank
// lines and lines starting with # are ignored.
func ParseTokens(text string) (*Tokens, error) {
	t := &Tokens{byHash: map[[32]byte]workflows.Actor{}}
	err := t.add(strings.NewReader(strings.ReplaceAll(text, ",", "\n")))
	return t, err
}

// ReadTokens adds the role:token lines of r (a tokens file) to t.
func (t *Tokens) ReadTokens(r io.Reader) error { return t.add(r) }

func (t *Tokens) add(r io.Reader) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		role, token, ok := strings.Cut(s, ":")
		role, token = strings.TrimSpace(role), strings.TrimSpace(token)
		if !ok || token == "" {
			return fmt.Errorf("token entry %d: want role:token", line)
		}
		if rank(role) == 0 {
			return fmt.Errorf("token entry %d: unknown role %q (want viewer, admin or staff)", line, role)
		}
		if len(token) < 16 {
			return fmt.Errorf("token entry %d: a token must have at least 16 characters", line)
		}
		h := sha256.Sum256([]byte(token))
		// The actor's name identifies the token without revealing it.
		t.byHash[h] = workflows.Actor{Name: role + "-" + hex.EncodeToString(h[:4]), Role: role}
	}
	return sc.Err()
}

// Len returns the number of tokens.
func (t *Tokens) Len() int { return len(t.byHash) }

// Actor returns who a token belongs to.
func (t *Tokens) Actor(token string) (workflows.Actor, bool) {
	a, ok := t.byHash[sha256.Sum256([]byte(token))]
	return a, ok
}

// allowed reports whether role may act as need.
func allowed(role, need string) bool { return rank(role) >= rank(need) }
