package login

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxEntries bounds the number of buckets a Limiter keeps.
const DefaultMaxEntries = 100_000

// sweepEvery is how often idle buckets are dropped.
const sweepEvery = time.Minute

// Rate is a parsed rate such as "5/min": N events per Per.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate parses "N/s", "N/min" or "N/h" (also "N/sec", "N/m",
// "N/minute", "N/hour") with N a positive integer.
func ParseRate(s string) (Rate, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/min or N/h", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("rate %q: count must be a positive integer", s)
	}
	per := map[string]time.Duration{
		"s": time.Second, "sec": time.Second, "second": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute,
		"h": time.Hour, "hour": time.Hour,
	}[strings.TrimSpace(unit)]
	if per == 0 {
		return Rate{}, fmt.Errorf("rate %q: unknown unit %q (want s, min or h)", s, unit)
	}
	return Rate{N: count, Per: per}, nil
}

func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.N) / r.Per.Seconds()) }

// Limiter counts failed password attempts per (username, client IP) and per
// client IP in token buckets (golang.org/x/time/rate): a bucket holds N
// attempts and refills at N per period, so "5/min" allows five failures at
// once and one more every 12 s. Buckets that have refilled completely are
// dropped (a full bucket is the same as none), and beyond DefaultMaxEntries
// arbitrary buckets are evicted, so memory stays bounded. Safe for concurrent use; a nil *Limiter allows everything.
type Limiter struct {
	perUser, perIP Rate
	now            func() time.Time
	max            int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// NewLimiter returns a Limiter for the login.rate and login.client_rate
// strings (see ParseRate).
func NewLimiter(perUserIP, perIP string) (*Limiter, error) {
	u, err := ParseRate(perUserIP)
	if err != nil {
		return nil, fmt.Errorf("login rate: %w", err)
	}
	i, err := ParseRate(perIP)
	if err != nil {
		return nil, fmt.Errorf("login client rate: %w", err)
	}
	return &Limiter{perUser: u, perIP: i, now: time.Now, max: DefaultMaxEntries,
		buckets: make(map[string]*rate.Limiter)}, nil
}

func userKey(user string, ip netip.Addr) string {
	if len(user) > 256 {
		user = user[:256]
	}
	return "u\x00" + ip.String() + "\x00" + user
}

func ipKey(ip netip.Addr) string { return "i\x00" + ip.String() }

// Allow reports whether another password attempt by user from ip may be
// checked; when not, retryAfter is how long until one may.
func (l *Limiter) Allow(user string, ip netip.Addr) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []struct {
		key string
		r   Rate
	}{{userKey(user, ip), l.perUser}, {ipKey(ip), l.perIP}} {
		b, found := l.buckets[k.key]
		if !found {
			continue
		}
		if tokens := b.TokensAt(now); tokens < 1 {
			wait := time.Duration(math.Ceil((1 - tokens) / float64(k.r.limit()) * float64(time.Second)))
			retryAfter = max(retryAfter, wait)
		}
	}
	return retryAfter == 0, retryAfter
}

// Failed records one failed attempt by user from ip.
func (l *Limiter) Failed(user string, ip netip.Addr) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	l.bucket(userKey(user, ip), l.perUser).AllowN(now, 1)
	l.bucket(ipKey(ip), l.perIP).AllowN(now, 1)
}

func (l *Limiter) bucket(key string, r Rate) *rate.Limiter {
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(r.limit(), r.N)
		l.buckets[key] = b
	}
	return b
}

// sweep drops full buckets (equivalent to none) once a minute or when the
// map is at its cap; if still at the cap, it evicts arbitrary buckets.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery && len(l.buckets) < l.max {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max-l.max/10 {
			break
		}
		delete(l.buckets, k)
	}
}
