package admin

import (
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	tok, err := ParseTokens("staff:staff-token-0123456789, admin:admin-token-0123456789\nviewer:viewer-token-012345")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Len() != 3 {
		t.Fatalf("Len = %d, want 3", tok.Len())
	}
	for token, role := range map[string]string{"staff-token-0123456789": "staff", "admin-token-0123456789": "admin", "viewer-token-012345": "viewer"} {
		a, ok := tok.Actor(token)
		if !ok || a.Role != role {
			t.Errorf("Actor(%s) = %+v, %v; want role %s", token, a, ok, role)
		}
		if strings.Contains(a.Name, token) {
			t.Errorf("actor name %q reveals the token", a.Name)
		}
	}
	if _, ok := tok.Actor("nope-nope-nope-nope"); ok {
		t.Error("an unknown token was accepted")
	}
	if err := tok.ReadTokens(strings.NewReader("# comment\n\nadmin:second-admin-token-xx\n")); err != nil || tok.Len() != 4 {
		t.Errorf("ReadTokens: err %v, Len %d", err, tok.Len())
	}
}

func TestParseTokensErrors(t *testing.T) {
	for text, want := range map[string]string{
		"root:some-long-token-value": "unknown role",
		"staff":                      "want role:token",
		"staff:short":                "at least 16",
		"staff:":                     "want role:token",
	} {
		_, err := ParseTokens(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTokens(%q) = %v, want an error with %q", text, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "some-long-token-value") {
			t.Errorf("error %q reveals the token", err)
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, c := range []struct {
		role, need string
		ok         bool
	}{
		{"viewer", "viewer", true}, {"viewer", "admin", false}, {"admin", "viewer", true},
		{"admin", "staff", false}, {"staff", "admin", true}, {"staff", "staff", true}, {"", "viewer", false},
	} {
		if got := allowed(c.role, c.need); got != c.ok {
			t.Errorf("allowed(%q, %q) = %v, want %v", c.role, c.need, got, c.ok)
		}
	}
}
