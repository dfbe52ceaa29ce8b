package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Forced-logout cleanup: after DeleteUserSessions moved the epoch, the
// ended sessions are already refused; what is left is to free their keys.
const (
	cleanupBatch    = 500             // sessions per delete pipeline
	cleanupTimeout  = 2 * time.Second // per batch
	maxCleanups     = 4               // concurrent cleanups; more are skipped
	cleanupAttempts = 3               // per batch, before the cleanup gives up
)

// background runs cleanups off the caller's path, at most maxCleanups at
// once, and stops them when the store closes (ctx).
type background struct {
	ctx  context.Context
	mu   sync.Mutex
	wg   sync.WaitGroup
	busy int
	// stopAfter, if > 0, ends each cleanup after that many batches: a
	// test's stand-in for a cleanup that fails part way.
	stopAfter int
}

// start runs fn in a goroutine unless maxCleanups are running or the
// store is closed; it reports whether fn was started.
func (b *background) start(fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil || b.busy >= maxCleanups {
		return false
	}
	b.busy++
	b.wg.Add(1)
	go func() {
		defer func() {
			b.mu.Lock()
			b.busy--
			b.mu.Unlock()
			b.wg.Done()
		}()
		fn(b.ctx)
	}()
	return true
}

// wait waits for running cleanups, after ctx was cancelled.
func (b *background) wait() {
	// The empty critical section is a barrier: a start in progress holds
	// mu until it has added to wg, and none can begin once ctx is done.
	b.mu.Lock()
	//lint:ignore SA2001 a barrier against a start in progress (see above)
	b.mu.Unlock()
	b.wg.Wait()
}

// cleanup drains the user's indexes of the epochs [from, to), which a
// forced logout ended: one bounded batch at a time, it deletes up to
// cleanupBatch sessions with their index members. A failing batch is
// retried, then the cleanup stops: the sessions left are refused anyway,
// and they and their index expire by themselves.
func (s *Store) cleanup(ctx context.Context, user string, from, to uint64) {
	batches := 0
	for gen := from; gen < to; gen++ {
		idx := s.index(gen, user)
		for {
			if batches++; s.bg.stopAfter > 0 && batches > s.bg.stopAfter {
				return
			}
			var done bool
			var err error
			for range cleanupAttempts {
				if done, err = s.cleanupBatch(ctx, idx); err == nil || ctx.Err() != nil {
					break
				}
			}
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.log.Warn("forced logout cleanup stopped; the sessions left are refused and expire by themselves", "err", err)
				return
			}
			if done {
				break
			}
		}
	}
}

// cleanupBatch deletes up to cleanupBatch sessions of an ended index, and
// their members, under its own timeout; done is true when the index is
// empty.
func (s *Store) cleanupBatch(ctx context.Context, idx string) (done bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	keys, err := s.rdb.ZRange(ctx, idx, 0, cleanupBatch-1).Result()
	if err != nil {
		return false, fmt.Errorf("read ended session index: %w", err)
	}
	if len(keys) == 0 {
		return true, nil
	}
	members := make([]any, len(keys))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			members[i] = key
			p.Del(ctx, s.keys.session+key)
		}
		p.ZRem(ctx, idx, members...)
		p.ZRem(ctx, s.keys.sessionExpiries, members...)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("delete ended sessions: %w", err)
	}
	return len(keys) < cleanupBatch, nil
}
