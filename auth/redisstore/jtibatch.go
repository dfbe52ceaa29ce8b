package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// jtiBatch coalesces the JTIRevoked questions that miss the cache at the
// same time into one pipeline: one round trip (one write, one read, one
// wake-up of Redis) for all of them instead of one each. That is the cost
// of a jwt route whose many distinct tokens each come back less often than
// the cache TTL. A question never waits for more than the round trip in
// flight when it arrives plus its own: while a round trip is out, new
// questions queue; when it returns, the first of them sends the queue as
// the next one. Each answer is the key's state as read after the question
// was asked, so revocations keep exactly their meaning.
type jtiBatch struct {
	mu      sync.Mutex
	busy    bool      // a round trip is in flight
	waiting []*jtiAsk // questions for the next round trip
}

// jtiAsk is one question. done is closed when it is answered, or when its
// asker must send batch (lead).
type jtiAsk struct {
	jti     string
	done    chan struct{}
	revoked bool
	err     error
	lead    bool
	batch   []*jtiAsk
}

// existsJTI answers whether revoked:jti:<jti> exists, in a round trip
// shared with the questions asked meanwhile, and caches the answer.
func (s *Store) existsJTI(ctx context.Context, jti string) (bool, error) {
	a := &jtiAsk{jti: jti, done: make(chan struct{})}
	b := &s.jtiBatch
	b.mu.Lock()
	if b.busy {
		b.waiting = append(b.waiting, a)
		b.mu.Unlock()
		// Not abandoned on ctx: the asks behind this one may depend on it
		// to lead. The wait is bounded by two store timeouts.
		<-a.done
		if !a.lead {
			return a.revoked, a.err
		}
	} else {
		b.busy = true
		b.mu.Unlock()
		a.batch = []*jtiAsk{a}
	}
	s.sendJTIs(ctx, a.batch)
	return a.revoked, a.err
}

// sendJTIs asks Redis about every question of batch in one pipeline under
// one store timeout (the leader's request leaving does not cancel the
// others'), answers them, and hands the questions that queued meanwhile
// to the first of them.
func (s *Store) sendJTIs(ctx context.Context, batch []*jtiAsk) {
	asked := time.Now()
	epoch := s.cache.epoch.Load()
	ctx, cancel := s.callCtx(context.WithoutCancel(ctx))
	cmds := make([]*redis.IntCmd, len(batch))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, a := range batch {
			cmds[i] = p.Exists(ctx, s.keys.jti+a.jti)
		}
		return nil
	})
	cancel()
	for i, a := range batch {
		n, cerr := cmds[i].Result()
		if cerr == nil && err != nil {
			cerr = err
		}
		if cerr != nil {
			a.err = fmt.Errorf("redisstore: check revoked jti: %w", cerr)
			continue
		}
		a.revoked = n > 0
		s.cache.putJTI(epoch, a.jti, a.revoked, asked)
	}
	b := &s.jtiBatch
	b.mu.Lock()
	next := b.waiting
	b.waiting = nil
	b.busy = len(next) > 0
	b.mu.Unlock()
	for _, a := range batch[1:] { // batch[0] is the caller
		close(a.done)
	}
	if len(next) > 0 {
		next[0].lead, next[0].batch = true, next
		close(next[0].done)
	}
}
