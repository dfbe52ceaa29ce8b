package jwtauth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

const cacheShards = 16

// tokenCache maps the SHA-256 of a verified token string (never the token
// itself) to its identity. It is bounded, sharded to keep lock contention
// low, and safe for concurrent use. Entries are valid until the token's
// exp plus leeway; the caller still checks revocation on every hit.
type tokenCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*auth.Identity
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]*auth.Identity)
	}
	return c
}

func (c *tokenCache) shard(key [sha256.Size]byte) *cacheShard {
	return &c.shards[int(key[0])%cacheShards]
}

// get returns the identity cached under key if it is still unexpired at
// now (exp plus leeway, the same rule as a fresh verification).
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time, leeway time.Duration) (*auth.Identity, bool) {
	s := c.shard(key)
	s.mu.RLock()
	id, ok := s.entries[key]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !now.Before(id.ExpiresAt.Add(leeway)) {
		s.mu.Lock()
		delete(s.entries, key)
		s.mu.Unlock()
		return nil, false
	}
	return id, true
}

// put stores id under key. When the shard is full it first drops expired
// entries, then arbitrary ones.
func (c *tokenCache) put(key [sha256.Size]byte, id *auth.Identity, now time.Time, leeway time.Duration) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= c.perShard {
		for k, e := range s.entries {
			if !now.Before(e.ExpiresAt.Add(leeway)) {
				delete(s.entries, k)
			}
		}
		for k := range s.entries {
			if len(s.entries) < c.perShard {
				break
			}
			delete(s.entries, k)
		}
	}
	s.entries[key] = id
}

// clear drops every entry, for when an issuer withdraws a key.
func (c *tokenCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.entries)
		s.mu.Unlock()
	}
}

// len returns the number of entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
