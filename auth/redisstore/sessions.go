package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// stored is a session as kept under session:<key>: the record as JSON plus
// the idle timeout, from which LastSeen is derived when listing:
// LastSeen = now - (idle - remaining TTL). TouchSession therefore writes
// nothing but the expiry, and a listed LastSeen is exact as long as the
// session is always touched with the idle it was created with.
type stored struct {
	auth.SessionRecord
	Idle time.Duration `json:"idle_ns"`
}

// CreateSession writes session:<rec.Key> with TTL idle and adds rec.Key to
// user-sessions:<rec.User>. The index has no TTL: stale members are
// removed when the user's sessions are listed or deleted.
func (s *Store) CreateSession(ctx context.Context, rec auth.SessionRecord, idle time.Duration) error {
	if idle < time.Millisecond {
		return fmt.Errorf("redisstore: create session: idle timeout %v is under 1ms", idle)
	}
	b, err := json.Marshal(stored{SessionRecord: rec, Idle: idle})
	if err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.session+rec.Key, b, idle)
		p.SAdd(ctx, s.keys.userSessions+rec.User, rec.Key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	return nil
}

// TouchSession reads the session and resets its TTL to idle in one GETEX,
// and returns it with LastSeen set to now. A record read within the cache
// TTL (500 ms by default) is answered locally, without a round trip: a
// session deleted through any Gatehouse replica is dropped from every
// replica's cache at once (pub/sub), one deleted or expired otherwise is
// seen within the cache TTL, and the idle expiry slides at each real read.
func (s *Store) TouchSession(ctx context.Context, key string, idle time.Duration) (auth.SessionRecord, error) {
	if idle < time.Millisecond {
		return auth.SessionRecord{}, fmt.Errorf("redisstore: touch session: idle timeout %v is under 1ms", idle)
	}
	now := time.Now()
	if rec, ok := s.cache.session(key, now); ok {
		rec.LastSeen = s.now()
		return rec, nil
	}
	epoch := s.cache.epoch.Load()
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	b, err := s.rdb.GetEx(ctx, s.keys.session+key, idle).Bytes()
	if errors.Is(err, redis.Nil) {
		return auth.SessionRecord{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.SessionRecord{}, fmt.Errorf("redisstore: touch session: %w", err)
	}
	st, err := decode(key, b)
	if err != nil {
		return auth.SessionRecord{}, err
	}
	s.cache.putSession(epoch, key, st.SessionRecord, now)
	st.LastSeen = s.now()
	return st.SessionRecord, nil
}

// DeleteSession removes the session and its index entry, and publishes the
// deletion so that every replica drops its cached copy.
func (s *Store) DeleteSession(ctx context.Context, key string) (bool, error) {
	defer s.cache.invalidate(s.keys, s.keys.session+key)
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	b, err := s.rdb.GetDel(ctx, s.keys.session+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redisstore: delete session: %w", err)
	}
	st, err := decode(key, b)
	if err != nil {
		return true, err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Publish(ctx, s.keys.channel, s.keys.session+key)
		p.SRem(ctx, s.keys.userSessions+st.User, key)
		return nil
	})
	if err != nil {
		return true, fmt.Errorf("redisstore: delete session index entry: %w", err)
	}
	return true, nil
}

// UserSessions lists the user's live sessions, oldest first, with LastSeen
// derived from each session's remaining TTL. It costs two or three round
// trips: the index, one pipeline of GET and PTTL per session, and an SREM
// of stale index members if there are any.
func (s *Store) UserSessions(ctx context.Context, user string) ([]auth.SessionRecord, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	idx := s.keys.userSessions + user
	members, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list sessions: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	gets := make([]*redis.StringCmd, len(members))
	ttls := make([]*redis.DurationCmd, len(members))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			gets[i] = p.Get(ctx, s.keys.session+m)
			ttls[i] = p.PTTL(ctx, s.keys.session+m)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: list sessions: %w", err)
	}
	now := s.now()
	var out []auth.SessionRecord
	var stale []any
	for i, m := range members {
		b, err := gets[i].Bytes()
		if errors.Is(err, redis.Nil) {
			stale = append(stale, m)
			continue
		}
		st, err := decode(m, b)
		if err != nil {
			return nil, err
		}
		st.LastSeen = lastSeen(st, ttls[i].Val(), now)
		out = append(out, st.SessionRecord)
	}
	if len(stale) > 0 {
		if err := s.rdb.SRem(ctx, idx, stale...).Err(); err != nil {
			return nil, fmt.Errorf("redisstore: remove stale session index entries: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b auth.SessionRecord) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// DeleteUserSessions deletes every session in the user's index, removes
// those members from the index, and returns how many sessions existed.
// A session created meanwhile stays (and stays indexed).
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	idx := s.keys.userSessions + user
	members, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete user sessions: %w", err)
	}
	if len(members) == 0 {
		return 0, nil
	}
	dels := make([]*redis.IntCmd, len(members))
	all := make([]any, len(members))
	defer func() {
		for _, m := range members {
			s.cache.invalidate(s.keys, s.keys.session+m)
		}
	}()
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			dels[i] = p.Del(ctx, s.keys.session+m)
			p.Publish(ctx, s.keys.channel, s.keys.session+m)
			all[i] = m
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete user sessions: %w", err)
	}
	n := 0
	for _, d := range dels {
		n += int(d.Val())
	}
	if err := s.rdb.SRem(ctx, idx, all...).Err(); err != nil {
		return n, fmt.Errorf("redisstore: delete user session index: %w", err)
	}
	return n, nil
}

func decode(key string, b []byte) (stored, error) {
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return stored{}, fmt.Errorf("redisstore: decode session record: %w", err)
	}
	st.Key = key
	return st, nil
}

// lastSeen derives when the session was last touched from its remaining
// TTL, within [Created, now].
func lastSeen(st stored, remaining time.Duration, now time.Time) time.Time {
	if remaining <= 0 || st.Idle <= 0 {
		return st.LastSeen
	}
	seen := now.Add(remaining - st.Idle)
	if seen.Before(st.Created) {
		seen = st.Created
	}
	if seen.After(now) {
		seen = now
	}
	return seen
}
