// Package memstore is the single-instance, in-memory auth.Store: the
// default when store.type is memory. Nothing survives a restart and nothing
// is shared between replicas; use redisstore for more than one instance.
package memstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// SweepInterval is how often a Store drops expired entries in the
// background; lookups also ignore expired entries lazily.
const SweepInterval = time.Minute

// Store keeps revocations and sessions in maps guarded by one RWMutex. It
// is safe for concurrent use. Revocation lookups take only the read lock
// and do not allocate. A Store must be made with New and released with
// Close, which stops the background sweep.
type Store struct {
	now func() time.Time

	mu       sync.RWMutex
	jtis     map[string]time.Time // jti → expiry
	subjects map[string]time.Time // subject → revoked at or before
	sessions map[string]*session  // session key → session
	byUser   map[string]map[string]struct{}
	epochs   map[string]uint64 // user → forced-logout counter (sessions.go)
	refresh  refreshState      // refresh-token families (refresh.go)
	attempts *Attempts         // login-attempt counters (attempts.go)

	locks map[string]time.Time // named locks → expiry (update.go)
	audit auditRing            // the audit trail (audit.go)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type session struct {
	rec     auth.SessionRecord
	idle    time.Duration
	expires time.Time
	gen     uint64 // the user's epoch at creation
}

// New returns an empty Store whose clock is now (time.Now when nil), and
// starts its periodic sweep of expired entries.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{
		now:      now,
		jtis:     make(map[string]time.Time),
		subjects: make(map[string]time.Time),
		sessions: make(map[string]*session),
		byUser:   make(map[string]map[string]struct{}),
		attempts: NewAttempts(now),
		epochs:   make(map[string]uint64),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go s.sweepLoop(SweepInterval)
	return s
}

// JTIRevoked reports whether jti was revoked and its expiry is still ahead.
func (s *Store) JTIRevoked(ctx context.Context, jti string) (bool, error) {
	s.mu.RLock()
	exp, ok := s.jtis[jti]
	s.mu.RUnlock()
	return ok && s.now().Before(exp), nil
}

// SubjectRevokedAt returns when the subject was last revoked, or the zero
// time.
func (s *Store) SubjectRevokedAt(ctx context.Context, sub string) (time.Time, error) {
	s.mu.RLock()
	at := s.subjects[sub]
	s.mu.RUnlock()
	return at, nil
}

// RevokeJTI revokes jti until exp. An exp already past records nothing: the
// token is refused as expired anyway.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	if !s.now().Before(exp) {
		return nil
	}
	s.mu.Lock()
	if exp.After(s.jtis[jti]) {
		s.jtis[jti] = exp
	}
	s.mu.Unlock()
	return nil
}

// RevokeSubject records at, truncated to whole seconds, as the subject's
// revocation time. Like the Redis schema, the last write wins.
func (s *Store) RevokeSubject(ctx context.Context, sub string, at time.Time) error {
	s.mu.Lock()
	s.subjects[sub] = time.Unix(at.Unix(), 0)
	s.mu.Unlock()
	return nil
}

// Ping always succeeds: memory is always there.
func (s *Store) Ping(ctx context.Context) error { return nil }

// Close stops the background sweep. It is safe to call more than once;
// the Store keeps answering afterwards.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *Store) sweepLoop(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.sweep()
		}
	}
}

// sweep drops every expired jti and session.
func (s *Store) sweep() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti, exp := range s.jtis {
		if !now.Before(exp) {
			delete(s.jtis, jti)
		}
	}
	for key, ss := range s.sessions {
		if !now.Before(ss.expires) {
			s.remove(key, ss)
		}
	}
}

// remove deletes a session and its index entry; s.mu must be held.
func (s *Store) remove(key string, ss *session) {
	delete(s.sessions, key)
	s.unindex(ss.rec.User, key)
}

func (s *Store) unindex(user, key string) {
	if keys := s.byUser[user]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(s.byUser, user)
		}
	}
}

func copyRecord(rec auth.SessionRecord) auth.SessionRecord {
	rec.Groups = slices.Clone(rec.Groups)
	return rec
}

var (
	_ auth.Store          = (*Store)(nil)
	_ auth.SessionCounter = (*Store)(nil)
)
