package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// pipelineCounter counts the pipelines (round trips) a client sends.
type pipelineCounter struct{ n atomic.Int64 }

func (c *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (c *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestJTIMissesShareARoundTrip: questions that miss the cache while a
// round trip is out wait for it and then go together in one, each with its
// own right answer; the first asker leaving does not fail the others.
func TestJTIMissesShareARoundTrip(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, CacheTTL: -1, Timeout: 20 * time.Second})
	ctx := testCtx(t)
	for i := 0; i < 40; i += 3 {
		if err := s.RevokeJTI(ctx, fmt.Sprintf("j%d", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var pipes pipelineCounter
	s.rdb.AddHook(&pipes)

	r.Pause()
	resumed := false
	defer func() {
		if !resumed {
			r.Resume()
		}
	}()
	leaderCtx, leave := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, 40)
	got := make([]bool, 40)
	ask := func(i int, c context.Context) {
		defer wg.Done()
		got[i], errs[i] = s.JTIRevoked(c, fmt.Sprintf("j%d", i))
	}
	wg.Add(1)
	go ask(0, leaderCtx)
	waitFor(t, "the first question to be in flight", func() bool { return pipes.n.Load() == 1 })
	for i := 1; i < 40; i++ {
		wg.Add(1)
		go ask(i, ctx)
	}
	waitFor(t, "39 questions to queue", func() bool {
		s.jtiBatch.mu.Lock()
		defer s.jtiBatch.mu.Unlock()
		return len(s.jtiBatch.waiting) == 39
	})
	leave() // the first asker's client goes away: its round trip still answers
	r.Resume()
	resumed = true
	wg.Wait()
	for i := range 40 {
		if errs[i] != nil || got[i] != (i%3 == 0) {
			t.Errorf("j%d: revoked %v, err %v; want %v", i, got[i], errs[i], i%3 == 0)
		}
	}
	if n := pipes.n.Load(); n != 2 {
		t.Errorf("%d round trips for 40 questions asked during one, want 2", n)
	}
	if s.jtiBatch.busy || len(s.jtiBatch.waiting) != 0 {
		t.Error("the batch is left busy or with questions queued")
	}
}

// TestJTIMissesFailTogether: when Redis does not answer within the store
// timeout, every question of the round trip fails (none hangs), and the
// next ones succeed once it answers again.
func TestJTIMissesFailTogether(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, CacheTTL: -1, Timeout: 300 * time.Millisecond})
	ctx := testCtx(t)
	if _, err := s.JTIRevoked(ctx, "warm"); err != nil {
		t.Fatal(err)
	}
	r.Pause()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.JTIRevoked(ctx, fmt.Sprintf("k%d", i)); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	r.Resume()
	if failed.Load() != 16 {
		t.Errorf("%d of 16 questions failed with Redis frozen, want all", failed.Load())
	}
	waitFor(t, "a question to be answered after Redis is back", func() bool {
		_, err := s.JTIRevoked(ctx, "after")
		return err == nil
	})
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
