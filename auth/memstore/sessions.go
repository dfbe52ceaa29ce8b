package memstore

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// CreateSession stores a copy of rec under rec.Key, expiring after idle,
// replacing any session with that key, stamped with the user's epoch. With
// maxPerUser > 0 it ends the user's other sessions past the cap, earliest
// expiry (least recently used) first.
func (s *Store) CreateSession(ctx context.Context, rec auth.SessionRecord, idle time.Duration, maxPerUser int) error {
	rec.Groups = slices.Clone(rec.Groups)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[rec.Key]; ok {
		s.remove(rec.Key, old)
	}
	if maxPerUser > 0 {
		others := s.live(rec.User, now) // oldest expiry first
		for i := 0; i <= len(others)-maxPerUser; i++ {
			s.remove(others[i].rec.Key, others[i])
		}
	}
	s.sessions[rec.Key] = &session{rec: rec, idle: idle, expires: now.Add(idle), gen: s.epochs[rec.User]}
	keys := s.byUser[rec.User]
	if keys == nil {
		keys = make(map[string]struct{})
		s.byUser[rec.User] = keys
	}
	keys[rec.Key] = struct{}{}
	return nil
}

// live returns the user's live sessions, earliest expiry first, and drops
// the expired or ended ones it meets; s.mu must be held for writing.
func (s *Store) live(user string, now time.Time) []*session {
	var out []*session
	for key := range s.byUser[user] {
		ss := s.sessions[key]
		switch {
		case ss == nil:
			s.unindex(user, key)
		case !s.valid(ss, now):
			s.remove(key, ss)
		default:
			out = append(out, ss)
		}
	}
	slices.SortFunc(out, bySessionExpiry)
	return out
}

func bySessionExpiry(a, b *session) int {
	return cmp.Or(a.expires.Compare(b.expires), cmp.Compare(a.rec.Key, b.rec.Key))
}

// valid reports whether ss is neither expired nor ended by a forced
// logout; s.mu must be held.
func (s *Store) valid(ss *session, now time.Time) bool {
	return now.Before(ss.expires) && ss.gen >= s.epochs[ss.rec.User]
}

// TouchSession returns the session with LastSeen set to now and slides its
// expiry to now+idle; auth.ErrNotFound when absent, expired or ended.
func (s *Store) TouchSession(ctx context.Context, key string, idle time.Duration) (auth.SessionRecord, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[key]
	if !ok || !s.valid(ss, now) {
		return auth.SessionRecord{}, auth.ErrNotFound
	}
	ss.rec.LastSeen = now
	ss.idle = idle
	ss.expires = now.Add(idle)
	return copyRecord(ss.rec), nil
}

// DeleteSession removes the session; false when it did not exist, had
// expired or was ended.
func (s *Store) DeleteSession(ctx context.Context, key string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[key]
	if !ok {
		return false, nil
	}
	live := s.valid(ss, now)
	s.remove(key, ss)
	return live, nil
}

// UserSessions returns copies of one page of the user's live sessions,
// earliest expiry first; the cursor is the offset in that order.
func (s *Store) UserSessions(ctx context.Context, user, cursor string, limit int) ([]auth.SessionRecord, string, error) {
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || strconv.Itoa(n) != cursor {
			return nil, "", auth.ErrBadCursor
		}
		from = n
	}
	if limit <= 0 {
		limit = auth.DefaultSessionPage
	}
	limit = min(limit, auth.MaxSessionPage)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.live(user, now)
	if from >= len(all) {
		return nil, "", nil
	}
	page := all[from:min(from+limit, len(all))]
	out := make([]auth.SessionRecord, len(page))
	for i, ss := range page {
		out[i] = copyRecord(ss.rec)
	}
	next := ""
	if from+limit < len(all) {
		next = strconv.Itoa(from + limit)
	}
	return out, next, nil
}

// DeleteUserSessions moves the user's epoch, which ends every session
// created before it in one step, removes them, and returns how many were
// live.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.live(user, now))
	s.epochs[user]++
	for key := range s.byUser[user] {
		delete(s.sessions, key)
	}
	delete(s.byUser, user)
	return n, nil
}

// ActiveSessions counts the live sessions: O(n) in the number of stored
// sessions, in memory, under the read lock (the console's overview only).
func (s *Store) ActiveSessions(ctx context.Context) (int, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, ss := range s.sessions {
		if ss.rec.Counted() && s.valid(ss, now) {
			n++
		}
	}
	return n, nil
}
