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
	cleanupBatch    = 500             // index members per ZSCAN, and per delete pipeline
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
	b.mu.Lock()
	b.mu.Unlock() // a start in progress has added to wg; none can begin now
	b.wg.Wait()
}

// cleanup walks the user's index with ZSCAN and deletes the sessions
// stamped with an epoch below epoch, with their members, one bounded batch
// at a time. Sessions created since the forced logout are kept. A failing
// batch is retried, then the cleanup stops: the sessions left are refused
// anyway and expire by their idle timeout.
func (s *Store) cleanup(ctx context.Context, user string, epoch uint64) {
	idx := s.keys.sessionIndex + user
	var cursor uint64
	for batch := 1; ; batch++ {
		if s.bg.stopAfter > 0 && batch > s.bg.stopAfter {
			return
		}
		var err error
		for range cleanupAttempts {
			var next uint64
			if next, err = s.cleanupBatch(ctx, idx, cursor, epoch); err == nil {
				cursor = next
				break
			}
			if ctx.Err() != nil {
				return
			}
		}
		if err != nil {
			s.log.Warn("forced logout cleanup stopped; the sessions left are refused and expire by themselves", "err", err)
			return
		}
		if cursor == 0 {
			return
		}
	}
}

// cleanupBatch runs one ZSCAN step from cursor and deletes what it found
// ended, under its own timeout; it returns the next cursor.
func (s *Store) cleanupBatch(ctx context.Context, idx string, cursor, epoch uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	kv, next, err := s.rdb.ZScan(ctx, idx, cursor, "", cleanupBatch).Result()
	if err != nil {
		return 0, fmt.Errorf("scan session index: %w", err)
	}
	var ended []any
	for i := 0; i < len(kv); i += 2 { // member, score, member, score…
		if gen, _, ok := parseMember(kv[i]); !ok || gen < epoch {
			ended = append(ended, kv[i])
		}
	}
	if len(ended) == 0 {
		return next, nil
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range ended {
			if _, key, ok := parseMember(m.(string)); ok {
				p.Del(ctx, s.keys.session+key)
			}
		}
		p.ZRem(ctx, idx, ended...)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete ended sessions: %w", err)
	}
	return next, nil
}
