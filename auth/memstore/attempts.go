package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// MaxAttemptBuckets bounds the number of login-attempt buckets an Attempts
// keeps.
const MaxAttemptBuckets = 100_000

// Attempts is the in-process auth.LoginAttempts: the counters of the
// memory store, and the local fallback of a replica whose shared counters
// cannot answer. Each bucket is kept as the time at which it will be full
// again (GCRA, equivalent to a token bucket), and a full bucket is no
// entry: buckets that have refilled are dropped once a minute, and beyond
// MaxAttemptBuckets arbitrary ones are evicted, so memory stays bounded.
// Safe for concurrent use; the zero value is not usable, use NewAttempts.
type Attempts struct {
	now func() time.Time
	max int

	mu        sync.Mutex
	full      map[string]time.Time // bucket key → when it is full again
	lastSweep time.Time
}

// NewAttempts returns empty counters on the clock now (time.Now when nil).
func NewAttempts(now func() time.Time) *Attempts {
	if now == nil {
		now = time.Now
	}
	return &Attempts{now: now, max: MaxAttemptBuckets, full: make(map[string]time.Time)}
}

func attemptKeys(a auth.Attempt) (user, ip string) {
	ip = "i\x00" + a.IP.String()
	return "u\x00" + a.IP.String() + "\x00" + a.UserHash(), ip
}

// ReserveAttempt takes one attempt from both buckets of a, or from neither.
func (s *Attempts) ReserveAttempt(_ context.Context, a auth.Attempt) (time.Duration, error) {
	uk, ik := attemptKeys(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	un, uw := take(s.full[uk], now, a.PerUser)
	in, iw := take(s.full[ik], now, a.PerIP)
	if wait := max(uw, iw); wait > 0 {
		return wait, nil
	}
	s.full[uk], s.full[ik] = un, in
	return 0, nil
}

// RefundAttempt gives one attempt back to both buckets of a.
func (s *Attempts) RefundAttempt(_ context.Context, a auth.Attempt) error {
	uk, ik := attemptKeys(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.give(uk, now, a.PerUser)
	s.give(ik, now, a.PerIP)
	return nil
}

// ClearAttempts gives one attempt back to a's IP bucket and fills its
// (user, IP) bucket.
func (s *Attempts) ClearAttempts(_ context.Context, a auth.Attempt) error {
	uk, ik := attemptKeys(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.full, uk)
	s.give(ik, s.now(), a.PerIP)
	return nil
}

// take reserves one token of a bucket that is full again at full: it
// returns the bucket's new state, or, when the bucket is empty, a
// positive wait until it holds a token.
func take(full, now time.Time, r auth.Rate) (time.Time, time.Duration) {
	next := full
	if next.Before(now) {
		next = now
	}
	next = next.Add(r.Interval())
	if over := next.Sub(now) - r.Per; over > 0 {
		return full, over
	}
	return next, 0
}

func (s *Attempts) give(key string, now time.Time, r auth.Rate) {
	full, ok := s.full[key]
	if !ok {
		return
	}
	if full = full.Add(-r.Interval()); full.After(now) {
		s.full[key] = full
	} else {
		delete(s.full, key)
	}
}

// sweep drops full buckets once a minute or when the map is at its cap;
// if still at the cap, it evicts arbitrary buckets down to 90%.
func (s *Attempts) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute && len(s.full) < s.max {
		return
	}
	s.lastSweep = now
	for k, full := range s.full {
		if !full.After(now) {
			delete(s.full, k)
		}
	}
	for k := range s.full {
		if len(s.full) < s.max-s.max/10 {
			break
		}
		delete(s.full, k)
	}
}

// Len returns the number of buckets kept (for tests and metrics).
func (s *Attempts) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.full)
}

// ReserveAttempt counts a login attempt in the store's Attempts.
func (s *Store) ReserveAttempt(ctx context.Context, a auth.Attempt) (time.Duration, error) {
	return s.attempts.ReserveAttempt(ctx, a)
}

// RefundAttempt gives a login attempt back in the store's Attempts.
func (s *Store) RefundAttempt(ctx context.Context, a auth.Attempt) error {
	return s.attempts.RefundAttempt(ctx, a)
}

// ClearAttempts ends a successful login in the store's Attempts.
func (s *Store) ClearAttempts(ctx context.Context, a auth.Attempt) error {
	return s.attempts.ClearAttempts(ctx, a)
}

var (
	_ auth.LoginAttempts = (*Attempts)(nil)
	_ auth.LoginAttempts = (*Store)(nil)
)
