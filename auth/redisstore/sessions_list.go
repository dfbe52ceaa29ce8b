package redisstore

// Listing a user's sessions, one bounded page at a time (GET /admin/sessions,
// the console's user page): the per-user index is read in pages, never
// whole, so a user with 100,000 sessions costs one page of memory.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// UserSessions lists one page of the user's live sessions in index order
// (earliest expiry first), with LastSeen derived from each session's
// remaining TTL. The cursor is the rank to start from. It costs two round
// trips (three when the epoch is not cached), and one more to drop the
// index members of sessions found gone; the first page also trims expired
// members. Memory is bounded by limit.
func (s *Store) UserSessions(ctx context.Context, user, cursor string, limit int) ([]auth.SessionRecord, string, error) {
	from, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = pageLimit(limit)
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	cur, err := s.sessionEpoch(ctx, user)
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: list sessions: %w", err)
	}
	idx := s.index(cur, user)
	now := s.now()
	var members *redis.StringSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if from == 0 {
			p.ZRemRangeByScore(ctx, idx, "-inf", "("+unixMS(now))
		}
		members = p.ZRange(ctx, idx, from, from+int64(limit)) // one more: is there a next page?
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: list sessions: %w", err)
	}
	keys := members.Val()
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = strconv.FormatInt(from+int64(limit), 10)
	}
	out, gone, err := s.readPage(ctx, keys, cur, now)
	if err != nil {
		return nil, "", err
	}
	if len(gone) > 0 {
		if err := s.rdb.ZRem(ctx, idx, gone...).Err(); err != nil {
			return nil, "", fmt.Errorf("redisstore: remove stale session index entries: %w", err)
		}
	}
	return out, next, nil
}

// readPage reads the records of the sessions keys in one pipeline; gone
// are the keys whose session no longer exists. Sessions ended by the epoch
// cur are skipped.
func (s *Store) readPage(ctx context.Context, keys []string, cur uint64, now time.Time) (out []auth.SessionRecord, gone []any, err error) {
	gets := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			gets[i] = p.Get(ctx, s.keys.session+key)
			ttls[i] = p.PTTL(ctx, s.keys.session+key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("redisstore: list sessions: %w", err)
	}
	for i, key := range keys {
		b, err := gets[i].Bytes()
		if errors.Is(err, redis.Nil) {
			gone = append(gone, key)
			continue
		}
		st, err := decode(key, b)
		if err != nil {
			return nil, nil, err
		}
		if st.Gen < cur {
			continue // ended by a forced logout; the cleanup removes it
		}
		st.LastSeen = lastSeen(st, ttls[i].Val(), now)
		out = append(out, st.SessionRecord)
	}
	return out, gone, nil
}

func parseCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != c {
		return 0, auth.ErrBadCursor
	}
	return n, nil
}

func pageLimit(limit int) int {
	if limit <= 0 {
		return auth.DefaultSessionPage
	}
	return min(limit, auth.MaxSessionPage)
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
