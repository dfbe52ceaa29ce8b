package memstore

import (
	"context"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// UpdateSession replaces the record of a live session, keeping its expiry
// and epoch; auth.ErrNotFound when it is gone.
func (s *Store) UpdateSession(_ context.Context, rec auth.SessionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[rec.Key]
	if !ok || !s.valid(ss, s.now()) {
		return auth.ErrNotFound
	}
	rec.User = ss.rec.User // the index is by user: never moved
	ss.rec = rec
	return nil
}

// TryLock takes the named lock for ttl; false while another holder has it.
func (s *Store) TryLock(_ context.Context, name string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if exp, ok := s.locks[name]; ok && now.Before(exp) {
		return false, nil
	}
	if s.locks == nil {
		s.locks = map[string]time.Time{}
	}
	for n, exp := range s.locks { // bounded: locks live seconds
		if !now.Before(exp) {
			delete(s.locks, n)
		}
	}
	s.locks[name] = now.Add(ttl)
	return true, nil
}

// Unlock releases the named lock.
func (s *Store) Unlock(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.locks, name)
	return nil
}
