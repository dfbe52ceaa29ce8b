package redisstore

import (
	"github.com/gatehouse-proxy/gatehouse/auth"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxCacheEntries bounds each cache map between sweeps; past it the map is
// emptied, which only costs Redis calls.
const maxCacheEntries = 1 << 16

// cache holds recent revocation answers and session records. It is trusted only while the
// subscription to the revocations channel is known to be healthy, and an
// answer read from Redis is stored only if no invalidation arrived while
// it was in flight (the epoch did not move). Safe for concurrent use.
type cache struct {
	ttl time.Duration // < 0: disabled

	mu    sync.RWMutex
	jtis  map[string]jtiEntry
	subs  map[string]subEntry
	sess  map[string]sessionEntry // session key (hex hash) → record
	epoch atomic.Uint64           // moved, under mu, by every invalidation and reset
	// healthyUntil is the UNIX nanosecond time until which the
	// subscription is believed healthy; 0 when it is down.
	healthyUntil atomic.Int64
}

type jtiEntry struct {
	revoked bool
	until   time.Time
}

type subEntry struct {
	at    time.Time
	until time.Time
}

type sessionEntry struct {
	rec   auth.SessionRecord
	until time.Time
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, jtis: make(map[string]jtiEntry), subs: make(map[string]subEntry), sess: make(map[string]sessionEntry)}
}

func (c *cache) usable(now time.Time) bool {
	return c.ttl > 0 && now.UnixNano() < c.healthyUntil.Load()
}

// jti returns the cached answer for jti, if any. It does not allocate.
func (c *cache) jti(jti string, now time.Time) (revoked, ok bool) {
	if !c.usable(now) {
		return false, false
	}
	c.mu.RLock()
	e, ok := c.jtis[jti]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return false, false
	}
	return e.revoked, true
}

// sub returns the cached revocation time of sub, if any.
func (c *cache) sub(sub string, now time.Time) (at time.Time, ok bool) {
	if !c.usable(now) {
		return time.Time{}, false
	}
	c.mu.RLock()
	e, ok := c.subs[sub]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return time.Time{}, false
	}
	return e.at, true
}

// session returns the cached record of the session stored under key.
func (c *cache) session(key string, now time.Time) (auth.SessionRecord, bool) {
	if !c.usable(now) {
		return auth.SessionRecord{}, false
	}
	c.mu.RLock()
	e, ok := c.sess[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return auth.SessionRecord{}, false
	}
	return e.rec, true
}

// putSession stores a record read from Redis after epoch was observed.
func (c *cache) putSession(epoch uint64, key string, rec auth.SessionRecord, now time.Time) {
	if !c.usable(now) {
		return
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if len(c.sess) >= maxCacheEntries {
			clear(c.sess)
		}
		c.sess[key] = sessionEntry{rec: rec, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
}

// putJTI stores an answer read from Redis after epoch was observed.
func (c *cache) putJTI(epoch uint64, jti string, revoked bool, now time.Time) {
	if !c.usable(now) {
		return
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if len(c.jtis) >= maxCacheEntries {
			clear(c.jtis)
		}
		c.jtis[jti] = jtiEntry{revoked: revoked, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
}

func (c *cache) putSub(epoch uint64, sub string, at, now time.Time) {
	if !c.usable(now) {
		return
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if len(c.subs) >= maxCacheEntries {
			clear(c.subs)
		}
		c.subs[sub] = subEntry{at: at, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
}

// invalidate drops the answer for a full Redis key of the schema, given
// the key prefixes of k; other keys only move the epoch.
func (c *cache) invalidate(k keys, key string) {
	c.mu.Lock()
	c.epoch.Add(1)
	if jti, ok := strings.CutPrefix(key, k.jti); ok {
		delete(c.jtis, jti)
	} else if sub, ok := strings.CutPrefix(key, k.sub); ok {
		delete(c.subs, sub)
	} else if sess, ok := strings.CutPrefix(key, k.session); ok {
		delete(c.sess, sess)
	}
	c.mu.Unlock()
}

// reset forgets every answer.
func (c *cache) reset() {
	c.mu.Lock()
	c.epoch.Add(1)
	clear(c.jtis)
	clear(c.subs)
	clear(c.sess)
	c.mu.Unlock()
}

// healthy marks the subscription healthy for d from now.
func (c *cache) healthy(now time.Time, d time.Duration) {
	c.healthyUntil.Store(now.Add(d).UnixNano())
}

// down marks the subscription down: the cache is not used, and what it
// holds may have missed invalidations, so it is dropped.
func (c *cache) down() {
	c.healthyUntil.Store(0)
	c.reset()
}

// sweep drops expired answers.
func (c *cache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.jtis {
		if !now.Before(e.until) {
			delete(c.jtis, k)
		}
	}
	for k, e := range c.subs {
		if !now.Before(e.until) {
			delete(c.subs, k)
		}
	}
	for k, e := range c.sess {
		if !now.Before(e.until) {
			delete(c.sess, k)
		}
	}
}
