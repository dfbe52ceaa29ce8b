package redisstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests drive the coalescer alone, with lookups answered in
// process: its bookkeeping, not Redis, is under test.

// TestCoalescerLeave covers a member giving up with its batch's turn in
// hand, and the last member of a batch whose turn waits in its buffer.
func TestCoalescerLeave(t *testing.T) {
	var c coalescer[int]
	c.mu.Lock()
	c.flights = maxFlights // as if that many round trips were in flight
	b, _ := c.join("a")
	c.join("b")
	c.mu.Unlock()

	c.landed() // b has the turn
	<-b.turn   // a member takes it, then finds its ctx ended
	c.leave(b, true)
	if len(b.turn) != 1 {
		t.Fatalf("after a member with the turn gave up, %d tokens in its batch, want 1 for its batch-mate", len(b.turn))
	}
	<-b.turn // the batch-mate takes it, and gives up too
	c.leave(b, true)
	if c.flights != maxFlights-1 {
		t.Fatalf("after the last member gave up the turn: %d flights, want %d (the flight freed)", c.flights, maxFlights-1)
	}

	c.mu.Lock()
	b2, _ := c.join("c")
	c.mu.Unlock()
	c.landed() // b2 has the turn, in its buffer
	c.leave(b2, false)
	if c.flights != maxFlights-2 || len(c.queue) != 0 {
		t.Fatalf("after a batch with the turn lost its last member: %d flights and %d batches, want %d and 0", c.flights, len(c.queue), maxFlights-2)
	}
}

// TestCoalescerStress runs many lookups of few keys, a third of them with
// very short deadlines: every lookup ends, with the right answer or its
// ctx's error; no batch holds a key twice; the coalescer ends idle.
func TestCoalescerStress(t *testing.T) {
	var batches, batched atomic.Int64
	var dup atomic.Value
	c := coalescer[int]{what: "test"}
	answer := func(key string) int { n, _ := strconv.Atoi(key[1:]); return 2 * n }
	c.one = func(ctx context.Context, key string) (int, error) {
		runtime.Gosched()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return answer(key), nil
	}
	c.many = func(ctx context.Context, keys []string, vals []int, errs []error) {
		batches.Add(1)
		batched.Add(int64(len(keys)))
		if ctx.Done() != nil {
			dup.Store("a batch was sent under a cancellable ctx")
		}
		seen := map[string]bool{}
		for i, k := range keys {
			if seen[k] {
				dup.Store("key " + k + " twice in one batch")
			}
			seen[k] = true
			vals[i] = answer(k)
		}
		runtime.Gosched()
	}
	const workers, each = 32, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ctx := context.Background()
				if (w+i)%3 == 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(20))*time.Microsecond)
					defer cancel()
				}
				key := "k" + strconv.Itoa(rand.IntN(100))
				v, err := c.get(ctx, key)
				switch {
				case err == nil && v != answer(key):
					t.Errorf("get(%s) = %d, want %d", key, v, answer(key))
				case err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())):
					t.Errorf("get(%s): %v, with ctx error %v", key, err, ctx.Err())
				}
			}
		})
	}
	wg.Wait()
	if d := dup.Load(); d != nil {
		t.Error(d)
	}
	if !idle(&c) {
		t.Errorf("coalescer not idle after every lookup ended: %d flights, %d batches", c.flights, len(c.queue))
	}
	t.Logf("%d lookups; %d pipelines of %d keys", workers*each, batches.Load(), batched.Load())
}

// TestCoalescerSenderPanics: when the round trip panics in the member
// sending it (net/http recovers a handler's panic), its batch-mates get
// an error, not a zero value, and the flight is freed.
func TestCoalescerSenderPanics(t *testing.T) {
	c := coalescer[bool]{what: "test"}
	c.many = func(context.Context, []string, []bool, []error) { panic("boom") }
	c.mu.Lock()
	c.flights = maxFlights // as if that many round trips were in flight
	c.mu.Unlock()
	keys := []string{"a", "b", "c"}
	errs := make([]error, len(keys))
	panics := make([]any, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			_, errs[i] = c.get(context.Background(), k)
		})
	}
	waitFor(t, "lookups queued", func() bool { return queued(&c) == len(keys) })
	c.landed()
	wg.Wait()
	n := 0
	for i := range keys {
		switch {
		case panics[i] != nil:
			n++
		case errs[i] == nil:
			t.Errorf("lookup %s, batch-mate of a panic: no error", keys[i])
		}
	}
	if n != 1 {
		t.Errorf("got %d panics, want 1 (the sender's)", n)
	}
	if c.flights != maxFlights-1 {
		t.Errorf("got %d flights after the panic, want %d", c.flights, maxFlights-1)
	}
}
