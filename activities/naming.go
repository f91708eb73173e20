package activities

import (
	"strings"
)

// This file holds the interim column naming of the loader, until the
// columns package (SnakeCase, Namer, Flatten, Infer, Coerce) lands; the
// loader calls only snakeCase and traitNamer.column, so switching is local.

// snakeCase converts a name the way segmentio/go-snakecase does
// (segment-semantics §1.4): runs of anything but ASCII letters and digits
// separate words, non-ASCII letters are dropped, a word is a run of
// uppercase letters and digits followed by lowercase letters, and words are
// lowercased and joined with "_" (accountType → account_type, HTTPRequest →
// httprequest, iOS → i_os, page2View → page_2view). A leading "_" before a
// lowercase letter is kept (_id).
func snakeCase(s string) string {
	var b strings.Builder
	keepUnderscore := len(s) > 1 && s[0] == '_' && isLowerASCII(s[1])
	if keepUnderscore {
		b.WriteByte('_')
		s = s[1:]
	}
	start := b.Len()
	inWord, lowerRun := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLowerASCII(c):
			if !inWord && b.Len() > start {
				b.WriteByte('_')
			}
			b.WriteByte(c)
			inWord, lowerRun = true, true
		case isUpperASCII(c) || isDigitASCII(c):
			// An uppercase letter or digit after lowercase letters starts a
			// new word; in a run of them it continues the word.
			if (inWord && lowerRun) || (!inWord && b.Len() > start) {
				b.WriteByte('_')
			}
			if isUpperASCII(c) {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			inWord, lowerRun = true, false
		case c >= 0x80:
			// Non-ASCII: dropped, without separating words.
		default:
			inWord = false
		}
	}
	return b.String()
}

func isLowerASCII(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpperASCII(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigitASCII(c byte) bool { return c >= '0' && c <= '9' }

// traitNamer names the trait columns of profile_traits_updates: the snake
// case of the trait name, "_"-prefixed if it starts with a digit or is a
// reserved column (the Redshift convention, segment-semantics §1.4), cut to
// the warehouse's longest name.
type traitNamer struct {
	reserved map[string]bool
	maxLen   int // 0: no limit
	cache    map[string]string
}

func newTraitNamer(reserved map[string]bool, maxLen int) *traitNamer {
	return &traitNamer{reserved: reserved, maxLen: maxLen, cache: map[string]string{}}
}

// column returns the column of a trait, or "" if its name has nothing a
// column name can use.
func (n *traitNamer) column(trait string) string {
	if c, ok := n.cache[trait]; ok {
		return c
	}
	c := snakeCase(trait)
	if c != "" {
		if isDigitASCII(c[0]) {
			c = "_" + c
		}
		if n.maxLen > 0 && len(c) > n.maxLen {
			c = c[:n.maxLen]
		}
		for n.reserved[c] {
			c = "_" + c
			if n.maxLen > 0 && len(c) > n.maxLen {
				c = c[:n.maxLen]
			}
		}
	}
	n.cache[trait] = c
	return c
}
