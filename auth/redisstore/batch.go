package redisstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// maxBatch bounds the keys one pipeline carries; misses past it wait for
// the next pipeline.
const maxBatch = 512

// maxFlights bounds the round trips of one kind in flight at once. One is
// what the proxy's load needs: in BenchmarkHotPathParallel/jwt-10k (32
// connections, 10,000 tokens in rotation, every lookup a miss) a request
// cost 44 µs and 2.3 µs of redis-server CPU with one flight, against 70 µs
// and 8 µs with two, because with two most misses went alone. The price
// is latency when two misses meet: the second waits for the first's round
// trip (and, at 2 goroutines in BenchmarkJTIRevokedMisses, 22 allocs per
// lookup instead of 15).
const maxFlights = 1

// linearMax: a batch finds a duplicate key by scanning its keys up to this
// many, and through a map past it.
const linearMax = 16

// coalescer joins concurrent cache misses of one kind (jtis, subjects)
// into pipelined round trips, DataLoader style. At most maxFlights round
// trips of its kind are in flight. A miss while fewer are goes at once,
// alone, as before batching (no added latency, no added round trip); a
// miss while all are joins the newest waiting batch (one key once, however
// many ask for it), up to maxBatch keys. When a flight lands, the oldest
// waiting batch has its turn: one of its members, whichever takes the turn
// token, sends the batch as one pipeline (a lone key as a plain command)
// and answers every member; the others wait for that answer or their own
// ctx. A member that gives up passes the token on; a batch whose members
// all gave up is dropped. Nothing waits on a timer: a batch grows only
// while the flights ahead of it are in the air.
//
// A batch is sent without the sender's cancellation (its batch-mates must
// not fail because one client hung up), bounded by the store's timeout;
// so a sender whose ctx ends during the round trip still waits for it, at
// most that timeout. A member joins only a batch not yet sent: a lookup
// never takes an answer read before it began, so a revocation written
// through this Store before a lookup is always seen by it.
//
// The zero value with one and many set is ready; safe for concurrent use.
// No goroutine is started.
type coalescer[V any] struct {
	// what is the operation in errors ("check revoked jti").
	what string
	// one reads key in its own round trip, under the caller's ctx.
	one func(ctx context.Context, key string) (V, error)
	// many reads keys in one pipeline, setting vals[i] or errs[i] for
	// keys[i]; ctx carries no cancellation, and many bounds it with the
	// store's timeout.
	many func(ctx context.Context, keys []string, vals []V, errs []error)

	mu sync.Mutex
	// flights counts the round trips in flight and the batches that have
	// their turn.
	flights int
	// queue holds the batches waiting for their turn, oldest first; only
	// the last takes new members. Not empty only while flights is
	// maxFlights.
	queue []*batch[V]
}

// batch is one pipeline's worth of misses. keys, index and members are
// guarded by coalescer.mu until the batch has its turn; vals and errs are
// written by the sender and read by members after done is closed.
type batch[V any] struct {
	keys    []string
	index   map[string]int // key → position, once keys outgrow linearMax
	members int            // callers still waiting, the sender included
	hasTurn bool           // the turn token was put in turn
	turn    chan struct{}  // capacity 1: the token of the batch's turn
	done    chan struct{}  // closed when vals and errs are set
	vals    []V
	errs    []error
}

// get answers key: alone at once when nothing is in flight, else in a
// batch.
func (c *coalescer[V]) get(ctx context.Context, key string) (V, error) {
	c.mu.Lock()
	if c.flights < maxFlights && len(c.queue) == 0 {
		c.flights++
		c.mu.Unlock()
		return c.alone(ctx, key)
	}
	b, i := c.join(key)
	c.mu.Unlock()
	select {
	case <-b.done:
		return b.vals[i], b.errs[i]
	case <-b.turn:
		if ctx.Err() == nil {
			c.send(ctx, b)
			return b.vals[i], b.errs[i]
		}
		c.leave(b, true)
	case <-ctx.Done():
		c.leave(b, false)
	}
	var zero V
	return zero, fmt.Errorf("redisstore: %s: %w", c.what, ctx.Err())
}

// alone is the round trip of a miss that found a flight free; it is
// counted in flights.
func (c *coalescer[V]) alone(ctx context.Context, key string) (V, error) {
	defer c.landed()
	return c.one(ctx, key)
}

// send sends b, whose turn the caller took, and answers its members.
func (c *coalescer[V]) send(ctx context.Context, b *batch[V]) {
	b.vals = make([]V, len(b.keys))
	b.errs = make([]error, len(b.keys))
	answered := false
	defer func() {
		if !answered { // a panic: no member may take a zero value for an answer
			for i := range b.errs {
				b.errs[i] = fmt.Errorf("redisstore: %s: the lookup's sender panicked", c.what)
			}
		}
		c.landed()
		close(b.done)
	}()
	ctx = context.WithoutCancel(ctx)
	if len(b.keys) == 1 {
		b.vals[0], b.errs[0] = c.one(ctx, b.keys[0])
	} else {
		c.many(ctx, b.keys, b.vals, b.errs)
	}
	answered = true
}

// landed ends the flight: the oldest waiting batch has its turn.
func (c *coalescer[V]) landed() {
	c.mu.Lock()
	c.next()
	c.mu.Unlock()
}

// next gives the flight that ended to the oldest waiting batch: its turn.
// c.mu is held.
func (c *coalescer[V]) next() {
	if len(c.queue) == 0 {
		c.flights--
		return
	}
	b := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	b.hasTurn = true
	b.turn <- struct{}{}
}

// join adds key to the newest waiting batch, or to a new one when that is
// full, and returns the batch and key's position in it. c.mu is held.
func (c *coalescer[V]) join(key string) (*batch[V], int) {
	var b *batch[V]
	if n := len(c.queue); n > 0 && len(c.queue[n-1].keys) < maxBatch {
		b = c.queue[n-1]
	} else {
		b = &batch[V]{turn: make(chan struct{}, 1), done: make(chan struct{})}
		c.queue = append(c.queue, b)
	}
	b.members++
	return b, b.add(key)
}

// add returns key's position in b, adding it if it is new.
func (b *batch[V]) add(key string) int {
	if b.index != nil {
		if i, ok := b.index[key]; ok {
			return i
		}
		b.index[key] = len(b.keys)
	} else {
		for i, k := range b.keys {
			if k == key {
				return i
			}
		}
		if len(b.keys) == linearMax {
			b.index = make(map[string]int, 2*linearMax)
			for i, k := range b.keys {
				b.index[k] = i
			}
			b.index[key] = len(b.keys)
		}
	}
	b.keys = append(b.keys, key)
	return len(b.keys) - 1
}

// leave takes a member whose ctx ended out of b. With the turn in hand
// (hadTurn) it passes the token to a batch-mate; the last member to leave
// a batch not sent drops it, passing the turn on if the batch had it.
func (c *coalescer[V]) leave(b *batch[V], hadTurn bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.members--
	switch {
	case b.members > 0:
		if hadTurn {
			b.turn <- struct{}{} // the buffer is empty: this member emptied it
		}
	case b.hasTurn:
		// Nobody is left to send b: the turn (in hand, or in the
		// buffer where nobody will take it) goes to the next batch.
		c.next()
	default:
		if i := slices.Index(c.queue, b); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
		}
	}
}
