package ingest

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/profilesync/profilesync/store"
)

// basicWriteKey returns the write key of an "Authorization: Basic" header:
// the user name, with an empty password. base64("key:") and base64("key")
// are both accepted; a password, if any, is ignored. It returns "" when the
// header is absent, uses another scheme (a Bearer token comes with the key in
// the body), or names an empty user.
func basicWriteKey(header string) (string, *requestError) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		// Some clients drop the padding.
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(cred), "="))
	}
	if err != nil {
		return "", &requestError{http.StatusUnauthorized, "malformed_authorization",
			"malformed Basic Authorization header: the credentials are not base64"}
	}
	user, _, _ := strings.Cut(string(raw), ":")
	return user, nil
}

// sourceCache remembers the sources of write keys for a while, so that a
// busy source costs one store lookup per TTL rather than one per request.
type sourceCache struct {
	sources Sources
	ttl     time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]cachedSource
}

type cachedSource struct {
	src     store.Source
	expires time.Time
}

// maxCachedSources bounds the cache; when full it starts over.
const maxCachedSources = 10000

func newSourceCache(sources Sources, ttl time.Duration, now func() time.Time) *sourceCache {
	return &sourceCache{sources: sources, ttl: ttl, now: now, entries: make(map[string]cachedSource)}
}

// lookup returns the source of a write key, from the cache or the store.
func (c *sourceCache) lookup(ctx context.Context, key string) (store.Source, error) {
	if c.ttl < 0 {
		return c.sources.SourceByWriteKey(ctx, key)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.src, nil
	}
	src, err := c.sources.SourceByWriteKey(ctx, key)
	if err != nil {
		return src, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedSources {
		clear(c.entries)
	}
	c.entries[key] = cachedSource{src: src, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return src, nil
}
