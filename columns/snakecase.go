package columns

// SnakeCase converts s to snake_case exactly as segmentio/go-snakecase (the
// converter Segment's warehouses use for table and column names) does in its
// current version, including its tests' expectations:
//
//   - Only ASCII letters and digits are kept. Every other byte, non-ASCII
//     letters included, separates words, and runs of separators collapse to
//     one "_" (éclair → clair, "FOO:BAR$BAZ" → foo_bar_baz).
//   - A word is a run of upper-case letters and digits followed by a run of
//     lower-case letters and digits, so a lower→Upper boundary starts a new
//     word and an upper-case run stays one chunk (accountType → account_type,
//     HTTPRequest → httprequest, iOS → i_os, CStringRef → cstring_ref,
//     page2View → page2_view).
//   - A prefix that is already snake_case is kept as it is. If that prefix
//     has no lower-case letter, or only digits since its last "_", the next
//     word continues it instead of starting a new one (5TEst → 5test,
//     THE5r → the5r).
//   - The result never starts or ends with "_" and never holds "__"; a
//     leading "_" is dropped (_5TEst → 5test, _id → id).
//
// The result holds only [a-z0-9_] and is empty when s has no ASCII letter or
// digit.
func SnakeCase(s string) string {
	n, glue := snakePrefix(s)
	if n == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:n]...)
	i := n
	if glue && isUpper(s[i]) {
		b, i = appendWord(b, s, i)
	}
	for i < len(s) {
		if !isAlnum(s[i]) {
			i++
			continue
		}
		if len(b) > 0 {
			b = append(b, '_')
		}
		b, i = appendWord(b, s, i)
	}
	return string(b)
}

// snakePrefix returns the length of the longest prefix of s that is already
// snake_case: lower-case letters, digits, and underscores that are not first
// and are followed by a lower-case letter or digit. glue reports whether the
// word that follows the prefix continues its last word: when the prefix has
// no lower-case letter, or has none since its last underscore.
func snakePrefix(s string) (n int, glue bool) {
	lower, underscore, lowerSinceUnderscore := false, false, false
	for ; n < len(s); n++ {
		c := s[n]
		switch {
		case isLower(c):
			lower = true
			lowerSinceUnderscore = underscore
		case isDigit(c):
		case c == '_' && n > 0 && n+1 < len(s) && (isLower(s[n+1]) || isDigit(s[n+1])):
			underscore, lowerSinceUnderscore = true, false
		default:
			return n, !lower || (underscore && !lowerSinceUnderscore)
		}
	}
	return n, false
}

// appendWord appends the word of s starting at i, lower-cased, and returns
// the index after it: a run of upper-case letters and digits, then a run of
// lower-case letters and digits.
func appendWord(b []byte, s string, i int) ([]byte, int) {
	for i < len(s) && (isUpper(s[i]) || isDigit(s[i])) {
		b = append(b, toLower(s[i]))
		i++
	}
	for i < len(s) && (isLower(s[i]) || isDigit(s[i])) {
		b = append(b, s[i])
		i++
	}
	return b, i
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) }

func toLower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}
