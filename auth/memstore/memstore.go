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
	refresh  refreshState // refresh-token families (refresh.go)
	attempts *Attempts    // login-attempt counters (attempts.go)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type session struct {
	rec     auth.SessionRecord
	idle    time.Duration
	expires time.Time
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

// CreateSession stores a copy of rec under rec.Key, expiring after idle,
// replacing any session with that key.
func (s *Store) CreateSession(ctx context.Context, rec auth.SessionRecord, idle time.Duration) error {
	rec.Groups = slices.Clone(rec.Groups)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[rec.Key]; ok {
		s.unindex(old.rec.User, rec.Key)
	}
	s.sessions[rec.Key] = &session{rec: rec, idle: idle, expires: s.now().Add(idle)}
	keys := s.byUser[rec.User]
	if keys == nil {
		keys = make(map[string]struct{})
		s.byUser[rec.User] = keys
	}
	keys[rec.Key] = struct{}{}
	return nil
}

// TouchSession returns the session with LastSeen set to now and slides its
// expiry to now+idle; auth.ErrNotFound when absent or expired.
func (s *Store) TouchSession(ctx context.Context, key string, idle time.Duration) (auth.SessionRecord, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[key]
	if !ok || !now.Before(ss.expires) {
		return auth.SessionRecord{}, auth.ErrNotFound
	}
	ss.rec.LastSeen = now
	ss.idle = idle
	ss.expires = now.Add(idle)
	return copyRecord(ss.rec), nil
}

// DeleteSession removes the session; false when it did not exist or had
// expired.
func (s *Store) DeleteSession(ctx context.Context, key string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[key]
	if !ok {
		return false, nil
	}
	s.remove(key, ss)
	return now.Before(ss.expires), nil
}

// UserSessions returns copies of the user's live sessions, oldest first.
func (s *Store) UserSessions(ctx context.Context, user string) ([]auth.SessionRecord, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []auth.SessionRecord
	for key := range s.byUser[user] {
		if ss := s.sessions[key]; ss != nil && now.Before(ss.expires) {
			out = append(out, copyRecord(ss.rec))
		}
	}
	slices.SortFunc(out, func(a, b auth.SessionRecord) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// DeleteUserSessions removes every session of the user and returns how
// many were live.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for key := range s.byUser[user] {
		if ss := s.sessions[key]; ss != nil {
			if now.Before(ss.expires) {
				n++
			}
			delete(s.sessions, key)
		}
	}
	delete(s.byUser, user)
	return n, nil
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

var _ auth.Store = (*Store)(nil)
