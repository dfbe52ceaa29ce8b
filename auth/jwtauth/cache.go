package jwtauth

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// DefaultCacheBytes is the verified-token cache's bound when
// Options.CacheBytes is 0: 32 MiB of estimated retained memory.
const DefaultCacheBytes = 32 << 20

const (
	cacheShards = 16
	// sweepEvery is how often a shard drops its expired entries: on the
	// first access after this much time, and from Run's ticker.
	sweepEvery = 30 * time.Second
	// rebuildBelow: after a sweep leaves fewer than 1/rebuildBelow of the
	// entries a shard's map once held, the map is rebuilt, because Go maps
	// never give their buckets back.
	rebuildBelow = 4
	rebuildMin   = 256
)

// tokenCache maps the SHA-256 of a verified token string (never the token
// itself) to its identity. It is bounded by the estimated bytes it retains
// (entrySize), sharded to keep lock contention low, and safe for
// concurrent use. Entries are valid until the token's exp plus leeway and
// are swept once expired; the caller still checks revocation on every hit.
type tokenCache struct {
	shardBytes   int64 // byte budget of each shard
	shardEntries int   // entry cap of each shard; 0: none
	leeway       time.Duration
	shards       [cacheShards]cacheShard
}

type cacheEntry struct {
	id   *auth.Identity
	size int64
}

type cacheShard struct {
	mu        sync.RWMutex
	entries   map[[sha256.Size]byte]cacheEntry
	bytes     int64     // sum of the entries' sizes
	peak      int       // most entries since the map was (re)built
	nextSweep time.Time // zero: at the first put
}

// newTokenCache returns a cache of at most maxBytes (estimated) and, when
// maxEntries > 0, at most about maxEntries entries.
func newTokenCache(maxBytes int64, maxEntries int, leeway time.Duration) *tokenCache {
	c := &tokenCache{shardBytes: max(1, maxBytes/cacheShards), leeway: leeway}
	if maxEntries > 0 {
		c.shardEntries = max(1, maxEntries/cacheShards)
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

// tokenKey is the cache key of token: its SHA-256, hashed in place (the
// bytes are only read), so that a hit does not copy a 16 KiB token.
func tokenKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

func (c *tokenCache) shard(key [sha256.Size]byte) *cacheShard {
	return &c.shards[int(key[0])%cacheShards]
}

func (c *tokenCache) expired(e cacheEntry, now time.Time) bool {
	return !now.Before(e.id.ExpiresAt.Add(c.leeway))
}

// get returns the identity cached under key if it is still unexpired at
// now (exp plus leeway, the same rule as a fresh verification). A hit
// takes only a read lock and allocates nothing.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (*auth.Identity, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.entries[key]
	due := !s.nextSweep.IsZero() && !now.Before(s.nextSweep)
	s.mu.RUnlock()
	if due {
		s.mu.Lock()
		if !now.Before(s.nextSweep) { // not swept meanwhile by another caller
			c.sweepLocked(s, now)
		}
		s.mu.Unlock()
	}
	if !ok {
		return nil, false
	}
	if c.expired(e, now) {
		s.mu.Lock()
		if cur, still := s.entries[key]; still && cur.id == e.id {
			s.remove(key, cur)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.id, true
}

// put stores id under key. An identity larger than a shard's budget is not
// cached. When the shard is full it first drops expired entries, then
// arbitrary ones, until the new entry fits.
func (c *tokenCache) put(key [sha256.Size]byte, id *auth.Identity, now time.Time) {
	size := entrySize(id)
	if size > c.shardBytes {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[key]; ok {
		s.remove(key, old)
	}
	if s.nextSweep.IsZero() || !now.Before(s.nextSweep) || !c.fits(s, size) {
		c.sweepLocked(s, now)
	}
	for k, e := range s.entries {
		if c.fits(s, size) {
			break
		}
		s.remove(k, e)
	}
	s.entries[key] = cacheEntry{id: id, size: size}
	s.bytes += size
	s.peak = max(s.peak, len(s.entries))
}

func (c *tokenCache) fits(s *cacheShard, size int64) bool {
	return s.bytes+size <= c.shardBytes && (c.shardEntries == 0 || len(s.entries) < c.shardEntries)
}

func (s *cacheShard) remove(key [sha256.Size]byte, e cacheEntry) {
	delete(s.entries, key)
	s.bytes -= e.size
}

// sweepLocked drops s's expired entries and, when few are left of what the
// map once held, rebuilds the map so that its memory is freed too. s.mu
// must be held for writing.
func (c *tokenCache) sweepLocked(s *cacheShard, now time.Time) {
	for k, e := range s.entries {
		if c.expired(e, now) {
			s.remove(k, e)
		}
	}
	if s.peak >= rebuildMin && len(s.entries) < s.peak/rebuildBelow {
		m := make(map[[sha256.Size]byte]cacheEntry, len(s.entries))
		for k, e := range s.entries {
			m[k] = e
		}
		s.entries, s.peak = m, len(m)
	}
	s.nextSweep = now.Add(sweepEvery)
}

// sweep drops every expired entry, for Run's ticker.
func (c *tokenCache) sweep(now time.Time) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		c.sweepLocked(s, now)
		s.mu.Unlock()
	}
}

// clear drops every entry, for when an issuer withdraws a key.
func (c *tokenCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.entries, s.bytes, s.peak = make(map[[sha256.Size]byte]cacheEntry), 0, 0
		s.mu.Unlock()
	}
}

// Conservative size estimates (64-bit), in bytes.
const (
	// entryOverhead: the cache map's slot (32-byte key, 16-byte value)
	// and control byte, at the worst load factor right after growth.
	entryOverhead = 2 * (sha256.Size + 16 + 1)
	identitySize  = 256 // auth.Identity itself (200 bytes), rounded up
	stringHeader  = 16
	sliceHeader   = 24
	ifaceSize     = 16
	// claimSlot: a claim map's slot (16-byte key header, 16-byte
	// interface) and control byte.
	claimSlot = stringHeader + ifaceSize + 1
	mapHeader = 64
)

// alloc over-estimates the heap a value of n bytes takes. Small objects
// round up to their size class; large ones also count heap fragmentation:
// a cache that evicts at random leaves holes in the spans of large size
// classes (measured: a 12 KB value costs about 14 KB of HeapInuse), so they
// count half again their size.
func alloc(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n < 1024:
		return int64(n + n/8 + 16)
	}
	return int64(n + n/2)
}

// mapAlloc over-estimates a map of n entries whose slots take slot bytes:
// groups of 8 slots, grown by doubling at a 7/8 load.
func mapAlloc(n, slot int) int64 {
	slots := 8
	for slots*7/8 < n {
		slots *= 2
	}
	return mapHeader + alloc(slots*slot)
}

// entrySize estimates the memory an entry keeps alive: the map slot, the
// identity, its strings and slices, and its claim set. A string the
// identity shares with its claims (sub as Subject and User…) is counted
// once.
func entrySize(id *auth.Identity) int64 {
	z := sizer{}
	n := int64(entryOverhead + identitySize)
	for _, s := range []string{id.Subject, id.User, id.Email, id.Method, id.Issuer, id.TokenID} {
		n += z.str(s)
	}
	n += z.strings(id.Groups) + z.strings(id.Scopes)
	return n + z.value(id.Claims)
}

// sizer sums allocations, counting each large string's bytes once.
type sizer struct{ seen map[*byte]bool }

// sharedMin: strings shorter than this are counted every time they
// appear; tracking them would cost more than it saves.
const sharedMin = 64

func (z *sizer) str(s string) int64 {
	if len(s) >= sharedMin {
		p := unsafe.StringData(s)
		if z.seen[p] {
			return 0
		}
		if z.seen == nil {
			z.seen = make(map[*byte]bool)
		}
		z.seen[p] = true
	}
	return alloc(len(s))
}

func (z *sizer) strings(ss []string) int64 {
	if ss == nil {
		return 0
	}
	n := alloc(cap(ss) * stringHeader)
	for _, s := range ss {
		n += z.str(s)
	}
	return n
}

// value estimates a decoded JSON value held in an interface.
func (z *sizer) value(v any) int64 {
	switch v := v.(type) {
	case string:
		return alloc(stringHeader) + z.str(v)
	case float64, bool:
		return alloc(8)
	case []any:
		n := alloc(sliceHeader) + alloc(cap(v)*ifaceSize)
		for _, e := range v {
			n += z.value(e)
		}
		return n
	case []string:
		return alloc(sliceHeader) + z.strings(v)
	case map[string]any:
		if v == nil {
			return 0
		}
		n := mapAlloc(len(v), claimSlot)
		for k, e := range v {
			n += z.str(k) + z.value(e)
		}
		return n
	case nil:
		return 0
	}
	return 64 // other types do not come out of encoding/json; count a little
}
