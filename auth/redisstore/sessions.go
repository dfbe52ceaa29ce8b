package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Session keys (prefix omitted):
//
//	session:<hash>              the record (JSON of stored), TTL idle, slid at each read
//	session-index:<gen>:<user>  sorted set of the user's sessions created in
//	                            epoch gen: member <hash>, score its expiry
//	                            (UNIX ms); key TTL = the latest member's expiry
//	session-epoch:<user>        forced-logout counter (INCR), no TTL; a session
//	                            is valid only while its gen is at least this
//	session-expiries            sorted set of every session (records that are
//	                            auth.SessionRecord.Counted): member <hash>,
//	                            score its expiry (UNIX ms); key TTL = the
//	                            latest member's expiry. ActiveSessions is a
//	                            ZCOUNT of it.
//
// No command touches two keys (Redis Cluster): the scripts below work on
// one index alone; the global set, in its own slot, is a separate command
// of the same pipeline.

// stored is a session as kept under session:<key>: the record as JSON plus
// the idle timeout, from which LastSeen is derived when listing:
// LastSeen = now - (idle - remaining TTL), and the user's session epoch
// when it was created. TouchSession therefore writes nothing but the
// expiry, and a listed LastSeen is exact as long as the session is always
// touched with the idle it was created with.
type stored struct {
	auth.SessionRecord
	Idle time.Duration `json:"idle_ns"`
	Gen  uint64        `json:"gen,omitempty"`
}

// maxEvict bounds how many sessions one CreateSession ends for
// maxPerUser; an index over the cap by more shrinks over later logins.
const maxEvict = 1000

// createIndex trims expired members, adds ARGV[1] with score ARGV[2],
// pushes the key's TTL to at least that expiry, and returns the members
// (lowest scores first, never ARGV[1]) past the cap ARGV[4] (0: none).
// ARGV[3] is now in UNIX ms.
var createIndex = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
local max = tonumber(ARGV[4])
local n = redis.call('ZCARD', KEYS[1])
if max <= 0 or n <= max then return {} end
local over = math.min(n - max, ` + strconv.Itoa(maxEvict) + `)
local out = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
  if m ~= ARGV[1] and #out < over then out[#out + 1] = m end
end
return out`

// touchIndex moves member ARGV[1] to score ARGV[2] if that is later (and
// adds it when ARGV[4] is "add": a session of an older release), and
// pushes the key's TTL to at least that expiry. ARGV[3] is now in UNIX ms.
var touchIndex = `
if ARGV[4] == 'add' then
  redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
elseif redis.call('ZADD', KEYS[1], 'XX', 'GT', 'CH', ARGV[2], ARGV[1]) == 0 then
  return 0
end
local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`

// maxTrim bounds how many expired members of session-expiries one
// CreateSession removes: O(log N + maxTrim), and the set still drains (each
// login adds one member and may remove up to maxTrim).
const maxTrim = 100

// setExpiry adds member ARGV[1] to the global session-expiries set with
// score ARGV[2], or moves it there if that is later, and pushes the key's
// TTL to at least that expiry; with ARGV[4] "trim" it first removes up to
// maxTrim members that expired before ARGV[3] (now in UNIX ms).
var setExpiry = `
if ARGV[4] == 'trim' then
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, ` + strconv.Itoa(maxTrim) + `)
  if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 0`

// ActiveSessions counts the sessions whose expiry is still ahead in
// session-expiries: one ZCOUNT, O(log N). Sessions ended by a forced
// logout are counted until its background cleanup removes them (or they
// expire).
func (s *Store) ActiveSessions(ctx context.Context) (int, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	n, err := s.rdb.ZCount(ctx, s.keys.sessionExpiries, "("+unixMS(s.now()), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: count sessions: %w", err)
	}
	return int(n), nil
}

// index is the key of the user's sessions created in epoch gen.
func (s *Store) index(gen uint64, user string) string {
	return s.keys.sessionIndex + strconv.FormatUint(gen, 10) + ":" + user
}

func unixMS(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// readSessionEpoch is sessionEpoch as one store call, under its own
// timeout.
func (s *Store) readSessionEpoch(ctx context.Context, user string) (uint64, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.sessionEpoch(ctx, user)
}

// sessionEpoch returns the user's session epoch, from the cache when it
// may be used.
func (s *Store) sessionEpoch(ctx context.Context, user string) (uint64, error) {
	now := time.Now()
	if v, ok := s.cache.sessionEpoch(user, now); ok {
		return v, nil
	}
	epoch := s.cache.epoch.Load()
	v, err := s.rdb.Get(ctx, s.keys.sessionEpoch+user).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read session epoch: %w", err)
	}
	s.cache.putSessionEpoch(epoch, user, v, now)
	return v, nil
}

// CreateSession writes session:<rec.Key> with TTL idle, stamped with the
// user's session epoch, and indexes it under session-index:<rec.User>,
// ending the sessions past maxPerUser (least recently used first, at most
// maxEvict per call). Two round trips, plus two when sessions are ended.
func (s *Store) CreateSession(ctx context.Context, rec auth.SessionRecord, idle time.Duration, maxPerUser int) error {
	if idle < time.Millisecond {
		return fmt.Errorf("redisstore: create session: idle timeout %v is under 1ms", idle)
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	// The epoch is read afresh, not from the cache: a login just after a
	// forced logout must not be stamped with the epoch it ended.
	gen, err := s.rdb.Get(ctx, s.keys.sessionEpoch+rec.User).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: create session: read session epoch: %w", err)
	}
	b, err := json.Marshal(stored{SessionRecord: rec, Idle: idle, Gen: gen})
	if err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	now := s.now()
	idx := s.index(gen, rec.User)
	var evict *redis.Cmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.session+rec.Key, b, idle)
		evict = p.Eval(ctx, createIndex, []string{idx},
			rec.Key, unixMS(now.Add(idle)), unixMS(now), maxPerUser)
		if rec.Counted() {
			p.Eval(ctx, setExpiry, []string{s.keys.sessionExpiries},
				rec.Key, unixMS(now.Add(idle)), unixMS(now), "trim")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	over, err := evict.StringSlice()
	if err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	if len(over) > 0 {
		if err := s.endIndexed(ctx, idx, over); err != nil {
			return fmt.Errorf("redisstore: end sessions over session.max_per_user: %w", err)
		}
	}
	return nil
}

// endIndexed deletes the sessions of index members, publishing each, and
// only then removes the members: a session whose deletion failed stays
// indexed, to be ended by a later call.
func (s *Store) endIndexed(ctx context.Context, idx string, members []string) error {
	rem := make([]any, len(members))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range members {
			rem[i] = key
			p.Del(ctx, s.keys.session+key)
			p.Publish(ctx, s.keys.channel, s.keys.session+key)
		}
		return nil
	})
	for _, key := range members {
		s.cache.invalidate(s.keys, s.keys.session+key)
	}
	if err != nil {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, idx, rem...)
		p.ZRem(ctx, s.keys.sessionExpiries, rem...)
		return nil
	})
	return err
}

// TouchSession reads the session and resets its TTL to idle in one GETEX,
// checks it against the user's session epoch, moves its index entry to the
// new expiry, and returns it with LastSeen set to now. A record and an
// epoch read within the cache TTL (500 ms by default) are answered
// locally, without a round trip: a session or epoch changed through any
// Gatehouse replica is dropped from every replica's cache at once
// (pub/sub), one changed otherwise is seen within the cache TTL, and the
// idle expiry slides at each real read. A real read costs two round trips
// (the record, then its epoch and index entry).
func (s *Store) TouchSession(ctx context.Context, key string, idle time.Duration) (auth.SessionRecord, error) {
	if idle < time.Millisecond {
		return auth.SessionRecord{}, fmt.Errorf("redisstore: touch session: idle timeout %v is under 1ms", idle)
	}
	now := time.Now()
	if st, ok := s.cache.session(key, now); ok {
		// Answered locally: the call's timeout (a timer) is set only
		// when the epoch must be read.
		cur, ok := s.cache.sessionEpoch(st.User, now)
		if !ok {
			var err error
			if cur, err = s.readSessionEpoch(ctx, st.User); err != nil {
				return auth.SessionRecord{}, fmt.Errorf("redisstore: touch session: %w", err)
			}
		}
		if st.Gen < cur {
			return auth.SessionRecord{}, auth.ErrNotFound
		}
		st.LastSeen = s.now()
		return st.SessionRecord, nil
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	epoch := s.cache.epoch.Load()
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
	cur, err := s.touchIndex(ctx, st, idle)
	if err != nil {
		return auth.SessionRecord{}, fmt.Errorf("redisstore: touch session: %w", err)
	}
	if st.Gen < cur {
		s.dropEnded(ctx, st)
		return auth.SessionRecord{}, auth.ErrNotFound
	}
	s.cache.putSession(epoch, key, st, now)
	st.LastSeen = s.now()
	return st.SessionRecord, nil
}

// touchIndex reads the user's session epoch (unless cached) and moves the
// session's index entry to its new expiry, in one round trip. A session
// of an older release (no gen) joins the index here.
func (s *Store) touchIndex(ctx context.Context, st stored, idle time.Duration) (uint64, error) {
	now := s.now()
	mode := "xx"
	if st.Gen == 0 {
		mode = "add"
	}
	cached, haveEpoch := s.cache.sessionEpoch(st.User, time.Now())
	epoch := s.cache.epoch.Load()
	var get *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if !haveEpoch {
			get = p.Get(ctx, s.keys.sessionEpoch+st.User)
		}
		p.Eval(ctx, touchIndex, []string{s.index(st.Gen, st.User)},
			st.Key, unixMS(now.Add(idle)), unixMS(now), mode)
		if st.Counted() {
			p.Eval(ctx, setExpiry, []string{s.keys.sessionExpiries},
				st.Key, unixMS(now.Add(idle)), unixMS(now), "")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	if haveEpoch {
		return cached, nil
	}
	v, err := get.Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read session epoch: %w", err)
	}
	s.cache.putSessionEpoch(epoch, st.User, v, time.Now())
	return v, nil
}

// dropEnded removes a session found ended by its epoch; a failure is left
// to the forced logout's cleanup and the session's own expiry.
func (s *Store) dropEnded(ctx context.Context, st stored) {
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.session+st.Key)
		p.ZRem(ctx, s.index(st.Gen, st.User), st.Key)
		p.ZRem(ctx, s.keys.sessionExpiries, st.Key)
		return nil
	})
}

// DeleteSession removes the session and its index entry, and publishes the
// deletion so that every replica drops its cached copy; false when there
// was none, or a forced logout had ended it.
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
	cur, err := s.sessionEpoch(ctx, st.User)
	if err != nil {
		return true, fmt.Errorf("redisstore: delete session: %w", err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Publish(ctx, s.keys.channel, s.keys.session+key)
		p.ZRem(ctx, s.index(st.Gen, st.User), key)
		p.ZRem(ctx, s.keys.sessionExpiries, key)
		p.SRem(ctx, s.keys.userSessions+st.User, key)
		return nil
	})
	if err != nil {
		return true, fmt.Errorf("redisstore: delete session index entry: %w", err)
	}
	return st.Gen >= cur, nil // one a forced logout ended was not live
}

// DeleteUserSessions ends every session of the user: it reads
// session-epoch:<user>, then in one pipeline counts the live members of
// that epoch's index and increments the epoch (every session stamped with
// an older epoch is refused from then on, by every replica: the key is
// published). The ended records and their index are then deleted in the
// background, in batches (cleanup.go); an index of an older release (a
// set) is unlinked.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	epochKey := s.keys.sessionEpoch + user
	defer s.cache.invalidate(s.keys, epochKey)
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	old, err := s.rdb.Get(ctx, epochKey).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("redisstore: delete user sessions: read session epoch: %w", err)
	}
	idx := s.index(old, user)
	var card, incr *redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, idx, "-inf", "("+unixMS(s.now()))
		card = p.ZCard(ctx, idx)
		incr = p.Incr(ctx, epochKey)
		p.Publish(ctx, s.keys.channel, epochKey)
		p.Unlink(ctx, s.keys.userSessions+user)
		return nil
	})
	if incr.Err() != nil {
		return 0, fmt.Errorf("redisstore: delete user sessions: %w", incr.Err())
	}
	if err != nil {
		// The epoch moved: every session is ended. The publish or the
		// count failed; other replicas see the epoch within the cache TTL.
		s.log.Warn("forced logout: epoch moved, but a companion command failed", "err", err)
	}
	s.bg.start(func(ctx context.Context) { s.cleanup(ctx, user, old, uint64(incr.Val())) })
	return int(card.Val()), nil
}

func decode(key string, b []byte) (stored, error) {
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return stored{}, fmt.Errorf("redisstore: decode session record: %w", err)
	}
	st.Key = key
	return st, nil
}
