package redisstore

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxCacheEntries bounds each cache table between sweeps; past it the table
// is emptied, which only costs Redis calls.
const maxCacheEntries = 1 << 16

// cache holds recent revocation answers and session records. It is trusted
// only while the subscription to the revocations channel is known to be
// healthy, and an answer read from Redis is stored only if no invalidation
// arrived while it was in flight (the epoch did not move). Safe for
// concurrent use.
type cache struct {
	ttl time.Duration // < 0: disabled

	mu    sync.RWMutex
	jtis  table[bool]      // jti → revoked
	subs  table[time.Time] // subject → revoked at
	sess  table[stored]    // session key (hex hash) → record
	sepo  table[uint64]    // user → session epoch (sessions.go)
	epoch atomic.Uint64    // moved, under mu, by every invalidation and reset
	// healthyUntil is the UNIX nanosecond time until which the
	// subscription is believed healthy; 0 when it is down.
	healthyUntil atomic.Int64
}

// table is one kind of cached answer; its methods expect cache.mu held.
type table[V any] map[string]entry[V]

type entry[V any] struct {
	v     V
	until time.Time
}

func (t table[V]) sweep(now time.Time) {
	for k, e := range t {
		if !now.Before(e.until) {
			delete(t, k)
		}
	}
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, jtis: table[bool]{}, subs: table[time.Time]{}, sess: table[stored]{}, sepo: table[uint64]{}}
}

func (c *cache) usable(now time.Time) bool {
	return c.ttl > 0 && now.UnixNano() < c.healthyUntil.Load()
}

// get returns the fresh answer for key in t, if the cache may be used. It
// does not allocate.
func get[V any](c *cache, t table[V], key string, now time.Time) (v V, ok bool) {
	if !c.usable(now) {
		return v, false
	}
	c.mu.RLock()
	e, ok := t[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return v, false
	}
	return e.v, true
}

// put stores an answer read from Redis after epoch was observed, unless an
// invalidation has moved the epoch since.
func put[V any](c *cache, t table[V], epoch uint64, key string, v V, now time.Time) {
	if !c.usable(now) {
		return
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		if len(t) >= maxCacheEntries {
			clear(t)
		}
		t[key] = entry[V]{v: v, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
}

// putAll is put for every keys[i] without errs[i], under one lock.
func putAll[V any](c *cache, t table[V], epoch uint64, keys []string, vals []V, errs []error, now time.Time) {
	if !c.usable(now) {
		return
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		for i, key := range keys {
			if errs[i] != nil {
				continue
			}
			if len(t) >= maxCacheEntries {
				clear(t)
			}
			t[key] = entry[V]{v: vals[i], until: now.Add(c.ttl)}
		}
	}
	c.mu.Unlock()
}

func (c *cache) jti(jti string, now time.Time) (revoked, ok bool) {
	return get(c, c.jtis, jti, now)
}

func (c *cache) sub(sub string, now time.Time) (at time.Time, ok bool) {
	return get(c, c.subs, sub, now)
}

func (c *cache) session(key string, now time.Time) (stored, bool) {
	return get(c, c.sess, key, now)
}

func (c *cache) sessionEpoch(user string, now time.Time) (uint64, bool) {
	return get(c, c.sepo, user, now)
}

func (c *cache) putJTI(epoch uint64, jti string, revoked bool, now time.Time) {
	put(c, c.jtis, epoch, jti, revoked, now)
}

func (c *cache) putSub(epoch uint64, sub string, at, now time.Time) {
	put(c, c.subs, epoch, sub, at, now)
}

func (c *cache) putSession(epoch uint64, key string, st stored, now time.Time) {
	put(c, c.sess, epoch, key, st, now)
}

func (c *cache) putSessionEpoch(epoch uint64, user string, v uint64, now time.Time) {
	put(c, c.sepo, epoch, user, v, now)
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
	} else if user, ok := strings.CutPrefix(key, k.sessionEpoch); ok {
		delete(c.sepo, user)
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
	clear(c.sepo)
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
	c.jtis.sweep(now)
	c.subs.sweep(now)
	c.sess.sweep(now)
	c.sepo.sweep(now)
}
