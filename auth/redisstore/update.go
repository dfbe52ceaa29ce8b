package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// UpdateSession replaces the record of a live session (SET XX KEEPTTL:
// its expiry, index entry and epoch are unchanged) and publishes its key
// so that every replica drops its cached copy; auth.ErrNotFound when it is
// gone. Callers serialize updates of one session (TryLock).
func (s *Store) UpdateSession(ctx context.Context, rec auth.SessionRecord) error {
	defer s.cache.invalidate(s.keys, s.keys.session+rec.Key)
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	b, err := s.rdb.Get(ctx, s.keys.session+rec.Key).Bytes()
	if errors.Is(err, redis.Nil) {
		return auth.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redisstore: update session: %w", err)
	}
	st, err := decode(rec.Key, b)
	if err != nil {
		return err
	}
	rec.User = st.User // the index and epoch are by user: never moved
	st.SessionRecord = rec
	nb, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("redisstore: update session: %w", err)
	}
	var set *redis.StatusCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.SetArgs(ctx, s.keys.session+rec.Key, nb, redis.SetArgs{Mode: "XX", KeepTTL: true})
		p.Publish(ctx, s.keys.channel, s.keys.session+rec.Key)
		return nil
	})
	if errors.Is(set.Err(), redis.Nil) {
		return auth.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redisstore: update session: %w", err)
	}
	return nil
}

// lockKey is the key of a named lock: <prefix>lock:<name>.
func (s *Store) lockKey(name string) string {
	return s.keys.session[:len(s.keys.session)-len("session:")] + "lock:" + name
}

// TryLock takes the named lock for ttl (SET NX PX); false while another
// holder, on any replica, has it.
func (s *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	ok, err := s.rdb.SetNX(ctx, s.lockKey(name), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: lock: %w", err)
	}
	return ok, nil
}

// Unlock releases the named lock.
func (s *Store) Unlock(ctx context.Context, name string) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.rdb.Del(ctx, s.lockKey(name)).Err()
}
