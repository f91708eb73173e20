package columns

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"
)

// FlattenJSON flattens a JSON object given as text. It returns exactly what
// decoding data with encoding/json (numbers as json.Number) into a
// map[string]any and calling Flatten(prefix, m) returns, and fails when
// that decoding fails; JSON null is no Fields and no error.
//
// It is the loader's fast path: it reads the text once and builds the
// Fields without the map, falling back to encoding/json and Flatten for
// what it does not read itself (duplicate keys, and text that is not valid
// JSON, for the decoder's error). Strings with escapes or bytes outside
// ASCII, and arrays, are decoded with encoding/json, one value at a time.
// A Flattener does the same and reuses the strings of the keys it has seen.
func FlattenJSON(prefix string, data []byte) ([]Field, error) {
	return (*Flattener)(nil).FlattenJSON(prefix, data)
}

// maxInterned bounds the strings a Flattener keeps: keys are few in
// practice, but nothing stops a source from sending a new one every time.
const maxInterned = 1 << 16

// A Flattener flattens JSON objects as FlattenJSON does, keeping the keys,
// snake_cased Keys and Key strings it has made (up to 65,536 of each) so
// that objects with the same keys, as a stream of events has, cost fewer
// allocations. A nil *Flattener keeps nothing. It is not safe for
// concurrent use.
type Flattener struct {
	keys  map[string]string // a key as written in JSON (no escapes) → the key
	snake map[string]string // a key → SnakeCase of it
	paths map[string]string // a Field's Key
}

// NewFlattener returns a Flattener.
func NewFlattener() *Flattener {
	return &Flattener{keys: map[string]string{}, snake: map[string]string{}, paths: map[string]string{}}
}

// FlattenJSON is the package's FlattenJSON.
func (fl *Flattener) FlattenJSON(prefix string, data []byte) ([]Field, error) {
	s := jsonFlattener{data: data, fl: fl}
	// Room for every member's Field and Path: a colon per member, at most
	// (and more in strings, hence the bound).
	if n := min(bytes.Count(data, []byte{':'}), 512); n > 0 {
		s.fields = make([]Field, 0, n)
		s.paths = make([]string, 0, 3*n)
	}
	if prefix != "" {
		s.path = append(s.path, prefix)
		s.key = append(s.key, fl.snakeCase(prefix)...)
	}
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '{' && s.object() {
		if s.space(); s.i == len(s.data) {
			if s.fields == nil {
				return []Field{}, nil // as Flatten
			}
			resolve(s.fields)
			return s.fields, nil
		}
	}
	// Anything unusual: the decoder and Flatten decide.
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data[d.InputOffset():])) > 0 {
		return nil, errors.New("invalid character after top-level value")
	}
	return Flatten(prefix, obj), nil
}

// intern returns b as a string, from m if it is there, keeping it in m
// if there is room.
func intern(m map[string]string, b []byte) string {
	if m == nil {
		return string(b)
	}
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(m) < maxInterned {
		m[s] = s
	}
	return s
}

// snakeCase is SnakeCase, remembered.
func (fl *Flattener) snakeCase(k string) string {
	if fl == nil {
		return SnakeCase(k)
	}
	if s, ok := fl.snake[k]; ok {
		return s
	}
	s := SnakeCase(k)
	if len(fl.snake) < maxInterned {
		fl.snake[k] = s
	}
	return s
}

// Members calls fn with the key (decoded) and the raw text of each value
// of a JSON object, in order, and reports whether data was an object it
// could read. It checks keys, strings, numbers and literals, and the
// brackets of nested values, but not what is inside those: a caller that
// reads a nested value (FlattenJSON does) checks it then. On false, fall
// back to encoding/json, which says what is wrong.
func Members(data []byte, fn func(key string, value []byte)) bool {
	s := jsonFlattener{data: data}
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		s.space()
		return s.i == len(s.data)
	}
	for {
		s.space()
		k, ok := s.string()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		start := s.i
		if !s.skipValue() {
			return false
		}
		fn(k, s.data[start:s.i])
		s.space()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.space()
			return s.i == len(s.data)
		default:
			return false
		}
	}
}

// jsonFlattener reads a JSON object into Fields. Its methods return false
// when the text is not what they read (invalid, or a case left to
// encoding/json); FlattenJSON then starts over with encoding/json.
type jsonFlattener struct {
	flattener
	fl   *Flattener
	data []byte
	i    int
	// keys holds the keys of the objects being read, outermost first, to
	// find duplicates.
	keys []string
}

// space skips white space.
func (s *jsonFlattener) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads an object at s.i ('{') and appends its Fields.
func (s *jsonFlattener) object() bool {
	s.i++ // '{'
	depth, keyLen, firstKey := len(s.path), len(s.key), len(s.keys)
	var seen map[string]bool // the keys of a large object
	defer func() { s.path, s.key, s.keys = s.path[:depth], s.key[:keyLen], s.keys[:firstKey] }()
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.space()
		k, ok := s.objectKey()
		if !ok {
			return false
		}
		// A duplicate key: the last one wins in a map, which only the
		// decoder knows how to do.
		if seen != nil {
			if seen[k] {
				return false
			}
			seen[k] = true
		} else {
			if slices.Contains(s.keys[firstKey:], k) {
				return false
			}
			s.keys = append(s.keys, k)
			if len(s.keys)-firstKey > 32 {
				seen = make(map[string]bool, 64)
				for _, k := range s.keys[firstKey:] {
					seen[k] = true
				}
			}
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if s.i >= len(s.data) {
			return false
		}
		s.path = append(s.path[:depth], k)
		s.key = s.key[:keyLen]
		if sk := s.fl.snakeCase(k); sk != "" {
			if len(s.key) > 0 {
				s.key = append(s.key, '_')
			}
			s.key = append(s.key, sk...)
		}
		if s.data[s.i] == '{' {
			if !s.object() {
				return false
			}
		} else {
			v, ok := s.value()
			if !ok {
				return false
			}
			s.add(v)
		}
		s.space()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// value reads a value that is not an object: a string, number, literal or
// array (as its JSON text, as Flatten stores arrays).
func (s *jsonFlattener) value() (any, bool) {
	switch c := s.data[s.i]; {
	case c == '"':
		v, ok := s.string()
		return v, ok
	case c == '[':
		start := s.i
		if !s.skip() {
			return nil, false
		}
		d := json.NewDecoder(bytes.NewReader(s.data[start:s.i]))
		d.UseNumber()
		var arr []any
		if d.Decode(&arr) != nil {
			return nil, false
		}
		return jsonText(arr), true
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	case c == '-' || isDigit(c):
		start := s.i
		for s.i < len(s.data) && isNumberByte(s.data[s.i]) {
			s.i++
		}
		n := string(s.data[start:s.i])
		return json.Number(n), isJSONNumber(n)
	}
	return nil, false
}

// add appends a Field for the current path.
func (s *jsonFlattener) add(v any) {
	var key string
	if s.fl != nil {
		key = intern(s.fl.paths, s.key)
	} else {
		key = string(s.key)
	}
	s.fields = append(s.fields, Field{Path: s.pathCopy(), Key: key, Value: v})
}

// literal reads true, false or null.
func (s *jsonFlattener) literal(word string) bool {
	if !bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// string reads a string at s.i. A string with an escape or a byte outside
// ASCII is decoded by encoding/json, which unescapes it and replaces
// invalid UTF-8.
func (s *jsonFlattener) string() (string, bool) {
	return s.stringIn(nil)
}

// objectKey reads a key: a string, interned in the Flattener.
func (s *jsonFlattener) objectKey() (string, bool) {
	if s.fl == nil {
		return s.stringIn(nil)
	}
	return s.stringIn(s.fl.keys)
}

// stringIn reads a string, interning it in m if it has neither escapes
// nor bytes outside ASCII.
func (s *jsonFlattener) stringIn(m map[string]string) (string, bool) {
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return "", false
	}
	start := s.i
	s.i++
	plain := true
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			if plain {
				return intern(m, s.data[start+1:s.i-1]), true
			}
			var v string
			if json.Unmarshal(s.data[start:s.i], &v) != nil {
				return "", false
			}
			return v, true
		case c == '\\':
			plain = false
			s.i += 2
			continue
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			plain = false
		}
		s.i++
	}
	return "", false
}

// skipValue moves past a value, checking strings, numbers and literals
// and, in arrays and objects, only brackets and strings.
func (s *jsonFlattener) skipValue() bool {
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '[', '{':
		return s.skip()
	}
	_, ok := s.value()
	return ok
}

// skip moves past an array or object at s.i, checking only its brackets and
// strings; the decoder checks the rest.
func (s *jsonFlattener) skip() bool {
	depth := 0
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '"':
			if _, ok := s.string(); !ok {
				return false
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		}
		s.i++
	}
	return false
}

// isNumberByte reports whether c may appear in a JSON number.
func isNumberByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
