package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// These tests make batches deterministically: the server is paused
// (SIGSTOP) while maxFlights lookups hold the flights, so every lookup
// started then waits in a batch; the tests wait for that (queued) before
// letting the server go on.

type answer[V any] struct {
	v   V
	err error
}

// queued is the number of lookups waiting in c's batches.
func queued[V any](c *coalescer[V]) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.queue {
		n += b.members
	}
	return n
}

// idle reports whether c has nothing in flight and nothing waiting.
func idle[V any](c *coalescer[V]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flights == 0 && len(c.queue) == 0
}

// waitFor polls cond every 2 ms until it holds, or fails after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// lookups starts lookup(ctxs[i], keys[i]) each in its own goroutine (ctxs
// nil: ctx for all) and returns a function that waits for their answers.
func lookups[V any](ctx context.Context, ctxs []context.Context, keys []string, lookup func(context.Context, string) (V, error)) func() []answer[V] {
	out := make([]answer[V], len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		c := ctx
		if ctxs != nil {
			c = ctxs[i]
		}
		wg.Go(func() { out[i].v, out[i].err = lookup(c, k) })
	}
	return func() []answer[V] { wg.Wait(); return out }
}

// holdFlights pauses r and starts maxFlights lookups of keys no test
// asks about; it returns once they hold c's flights, with a function that
// waits for them. The caller resumes r (or stops it).
func holdFlights[V any](t *testing.T, r *authtest.Redis, c *coalescer[V], lookup func(context.Context, string) (V, error)) func() []answer[V] {
	t.Helper()
	r.Pause()
	t.Cleanup(r.Resume)
	keys := make([]string, maxFlights)
	for i := range keys {
		keys[i] = "holder-" + strconv.Itoa(i)
	}
	wait := lookups(testCtx(t), nil, keys, lookup)
	waitFor(t, "lookups holding the flights", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.flights == maxFlights
	})
	return wait
}

// batchStore is a store for these tests: a timeout long enough for a
// paused server, a round-trip counter, and its pool warmed.
func batchStore(t *testing.T, r *authtest.Redis, o Options) (*Store, *tripCounter) {
	t.Helper()
	o.Addrs = []string{r.Addr}
	o.Timeout = 10 * time.Second
	s := newStore(t, o)
	if err := s.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	var tc tripCounter
	s.rdb.AddHook(&tc)
	return s, &tc
}

// cmdCalls is the server's count of calls of cmd (INFO commandstats).
func cmdCalls(t *testing.T, rdb *redis.Client, cmd string) int {
	t.Helper()
	info, err := rdb.Info(testCtx(t), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_"+cmd+":calls=")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	return n
}

func TestCoalescedJTILookups(t *testing.T) {
	r := authtest.StartRedis(t)
	rdb := r.Client(t)
	s, tc := batchStore(t, r, Options{CacheTTL: -1})
	ctx := testCtx(t)
	// 600 lookups of 450 distinct jtis (some asked for more than once),
	// every 7th revoked: more than one batch's worth.
	const calls, distinct = 600, 450
	keys := make([]string, calls)
	for i := range keys {
		keys[i] = "j" + strconv.Itoa(i%distinct)
		if i < distinct && i%7 == 0 {
			if err := s.RevokeJTI(ctx, keys[i], time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	exists0, trips0 := cmdCalls(t, rdb, "exists"), tc.trips.Load()

	holders := holdFlights(t, r, &s.jtis, s.JTIRevoked)
	wait := lookups(ctx, nil, keys, s.JTIRevoked)
	waitFor(t, "lookups queued", func() bool { return queued(&s.jtis) == calls })
	r.Resume()
	for _, a := range holders() {
		if a.err != nil {
			t.Fatal(a.err)
		}
	}
	for i, a := range wait() {
		n, _ := strconv.Atoi(keys[i][1:])
		if want := n%7 == 0; a.err != nil || a.v != want {
			t.Errorf("JTIRevoked(%s) = %v, %v; want %v, nil", keys[i], a.v, a.err, want)
		}
	}
	// The holders' two round trips, then 450 keys in one pipeline of 512
	// at most: one round trip.
	if got, want := tc.trips.Load()-trips0, int64(maxFlights+1); got != want {
		t.Errorf("got %d round trips for %d+%d lookups, want %d", got, maxFlights, calls, want)
	}
	if got, want := cmdCalls(t, rdb, "exists")-exists0, maxFlights+distinct; got != want {
		t.Errorf("got %d EXISTS for %d lookups of %d jtis, want %d (one per distinct jti)", got, calls, distinct, want)
	}
	waitFor(t, "coalescer idle", func() bool { return idle(&s.jtis) })
}

func TestCoalescedSubjectLookups(t *testing.T) {
	r := authtest.StartRedis(t)
	rdb := r.Client(t)
	s, tc := batchStore(t, r, Options{CacheTTL: -1})
	ctx := testCtx(t)
	// 700 subjects, more than maxBatch: two batches. Every 5th revoked at
	// 1700000000+i; "s13" malformed.
	const calls = 700
	keys := make([]string, calls)
	for i := range keys {
		keys[i] = "s" + strconv.Itoa(i)
		if i%5 == 0 {
			if err := s.RevokeSubject(ctx, keys[i], time.Unix(1700000000+int64(i), 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rdb.Set(ctx, s.keys.sub+"s13", "yesterday", 0).Err(); err != nil {
		t.Fatal(err)
	}
	trips0 := tc.trips.Load()

	holders := holdFlights(t, r, &s.subs, s.SubjectRevokedAt)
	wait := lookups(ctx, nil, keys, s.SubjectRevokedAt)
	waitFor(t, "lookups queued", func() bool { return queued(&s.subs) == calls })
	r.Resume()
	holders()
	for i, a := range wait() {
		var want time.Time
		if i%5 == 0 {
			want = time.Unix(1700000000+int64(i), 0)
		}
		switch {
		case i == 13:
			if a.err == nil || !strings.Contains(a.err.Error(), "not UNIX seconds") {
				t.Errorf("SubjectRevokedAt(s13), malformed: got %v, %v; want the malformed-value error", a.v, a.err)
			}
		case a.err != nil || !a.v.Equal(want):
			t.Errorf("SubjectRevokedAt(%s) = %v, %v; want %v, nil", keys[i], a.v, a.err, want)
		}
	}
	if got, want := tc.trips.Load()-trips0, int64(maxFlights+2); got != want {
		t.Errorf("got %d round trips for %d+%d lookups (batches of %d), want %d", got, maxFlights, calls, maxBatch, want)
	}
}

// TestCoalescedMemberGivesUp: a lookup whose ctx ends while it waits in a
// batch gets ctx's error at once; its batch-mates still get answers, and
// a batch all of whose members gave up is dropped.
func TestCoalescedMemberGivesUp(t *testing.T) {
	r := authtest.StartRedis(t)
	s, _ := batchStore(t, r, Options{CacheTTL: -1})
	ctx := testCtx(t)
	if err := s.RevokeJTI(ctx, "revoked", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	holders := holdFlights(t, r, &s.jtis, s.JTIRevoked)
	// A batch of one quitter: dropped.
	quit1, cancel1 := context.WithCancel(ctx)
	wait1 := lookups(quit1, nil, []string{"alone"}, s.JTIRevoked)
	waitFor(t, "lookup queued", func() bool { return queued(&s.jtis) == 1 })
	cancel1()
	if a := wait1()[0]; !errors.Is(a.err, context.Canceled) {
		t.Errorf("the lone quitter got %v, %v; want context.Canceled", a.v, a.err)
	}
	s.jtis.mu.Lock()
	if n := len(s.jtis.queue); n != 0 {
		t.Errorf("got %d batches waiting after the only member of the only one gave up, want 0", n)
	}
	s.jtis.mu.Unlock()
	// A quitter among batch-mates.
	quit, cancel := context.WithCancel(ctx)
	wait := lookups(ctx, []context.Context{quit, ctx, ctx}, []string{"quitter", "revoked", "kept"}, s.JTIRevoked)
	waitFor(t, "lookups queued", func() bool { return queued(&s.jtis) == 3 })
	cancel()
	waitFor(t, "the quitter out of its batch", func() bool { return queued(&s.jtis) == 2 })
	r.Resume()
	holders()
	got := wait()
	if a := got[0]; !errors.Is(a.err, context.Canceled) || !strings.HasPrefix(a.err.Error(), "redisstore: check revoked jti: ") {
		t.Errorf("the quitter got %v, %v; want redisstore: check revoked jti: context canceled", a.v, a.err)
	}
	if a := got[1]; a.err != nil || !a.v {
		t.Errorf("JTIRevoked(revoked) = %v, %v; want true, nil", a.v, a.err)
	}
	if a := got[2]; a.err != nil || a.v {
		t.Errorf("JTIRevoked(kept) = %v, %v; want false, nil", a.v, a.err)
	}
	waitFor(t, "coalescer idle", func() bool { return idle(&s.jtis) })
	if ok, err := s.JTIRevoked(ctx, "revoked"); err != nil || !ok {
		t.Errorf("JTIRevoked(revoked) afterwards = %v, %v; want true, nil", ok, err)
	}
}

type memberKey struct{}

// cancelSender cancels, as the first pipeline starts, the ctx of the
// lookup that sends it (named by memberKey in ctx).
type cancelSender struct {
	cancels map[string]context.CancelFunc
	once    sync.Once
	sender  chan string
}

func (h *cancelSender) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *cancelSender) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *cancelSender) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.once.Do(func() {
			name, _ := ctx.Value(memberKey{}).(string)
			h.cancels[name]()
			h.sender <- name
		})
		return next(ctx, cmds)
	}
}

// TestCoalescedSenderGivesUp: the member that sends a batch hangs up as
// the round trip starts; the batch is not cancelled with it.
func TestCoalescedSenderGivesUp(t *testing.T) {
	r := authtest.StartRedis(t)
	s, _ := batchStore(t, r, Options{CacheTTL: -1})
	ctx := testCtx(t)
	if err := s.RevokeJTI(ctx, "m1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	h := &cancelSender{cancels: map[string]context.CancelFunc{}, sender: make(chan string, 1)}
	s.rdb.AddHook(h)
	keys := []string{"m0", "m1", "m2"}
	ctxs := make([]context.Context, len(keys))
	for i, k := range keys {
		ctxs[i], h.cancels[k] = context.WithCancel(context.WithValue(ctx, memberKey{}, k))
	}
	holders := holdFlights(t, r, &s.jtis, s.JTIRevoked)
	wait := lookups(ctx, ctxs, keys, s.JTIRevoked)
	waitFor(t, "lookups queued", func() bool { return queued(&s.jtis) == len(keys) })
	r.Resume()
	holders()
	got := wait()
	sender := <-h.sender
	for i, a := range got {
		if keys[i] == sender {
			continue // waited for the round trip it started: either answer is fine
		}
		if want := keys[i] == "m1"; a.err != nil || a.v != want {
			t.Errorf("JTIRevoked(%s), batch-mate of %s who hung up = %v, %v; want %v, nil", keys[i], sender, a.v, a.err, want)
		}
	}
}

// TestCoalescedError: a failed round trip answers every member with the
// error.
func TestCoalescedError(t *testing.T) {
	for _, kind := range []string{"jti", "subject"} {
		t.Run(kind, func(t *testing.T) {
			r := authtest.StartRedis(t)
			var c counter
			s, _ := batchStore(t, r, Options{CacheTTL: -1, Observe: c.observe})
			keys := []string{"a", "b", "c", "d"}
			var errs []error
			if kind == "jti" {
				errs = failedBatch(t, r, &s.jtis, s.JTIRevoked, keys)
			} else {
				errs = failedBatch(t, r, &s.subs, s.SubjectRevokedAt, keys)
			}
			prefix := map[string]string{"jti": "redisstore: check revoked jti: ", "subject": "redisstore: read subject revocation: "}[kind]
			for i, err := range errs {
				if err == nil || !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("lookup %s with the server gone: %v, want an error starting %q", keys[i], err, prefix)
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.errs < len(keys) {
				t.Errorf("Observe saw %d errors, want at least %d (one per pipelined command)", c.errs, len(keys))
			}
		})
	}
}

// failedBatch holds c's flights, queues lookups of keys in a batch, stops
// the server and returns the lookups' errors.
func failedBatch[V any](t *testing.T, r *authtest.Redis, c *coalescer[V], lookup func(context.Context, string) (V, error), keys []string) []error {
	t.Helper()
	holders := holdFlights(t, r, c, lookup)
	wait := lookups(testCtx(t), nil, keys, lookup)
	waitFor(t, "lookups queued", func() bool { return queued(c) == len(keys) })
	r.Stop()
	holders()
	var errs []error
	for _, a := range wait() {
		errs = append(errs, a.err)
	}
	return errs
}

// stallAfterRead is a hook that, after the first pipeline has been
// answered and before the store sees the answer, runs then.
type stallAfterRead struct {
	once sync.Once
	then func()
}

func (h *stallAfterRead) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *stallAfterRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *stallAfterRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.once.Do(h.then)
		return err
	}
}

// TestCoalescedInvalidationInFlight: another replica revokes a jti after
// a batch read it as not revoked and before the answer is cached; the
// published invalidation wins, so the stale answer is not reused.
func TestCoalescedInvalidationInFlight(t *testing.T) {
	r := authtest.StartRedis(t)
	p := prefix()
	a, _ := batchStore(t, r, Options{KeyPrefix: p, CacheTTL: MaxCacheTTL})
	b := newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: p})
	waitSubscribed(t, a)
	ctx := testCtx(t)
	var usable, invalidated bool
	a.rdb.AddHook(&stallAfterRead{then: func() {
		epoch := a.cache.epoch.Load()
		if err := b.RevokeJTI(ctx, "victim", time.Now().Add(time.Hour)); err != nil {
			return
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if a.cache.epoch.Load() != epoch {
				invalidated = true
				break
			}
		}
		usable = a.cache.usable(time.Now())
	}})
	holders := holdFlights(t, r, &a.jtis, a.JTIRevoked)
	wait := lookups(ctx, nil, []string{"victim", "bystander"}, a.JTIRevoked)
	waitFor(t, "lookups queued", func() bool { return queued(&a.jtis) == 2 })
	r.Resume()
	holders()
	if got := wait(); got[0].err != nil || got[0].v {
		t.Fatalf("JTIRevoked(victim) read before the revocation = %v, %v; want false, nil", got[0].v, got[0].err)
	}
	if !invalidated || !usable {
		t.Fatalf("B's revocation reached A during the flight: %v; A's cache in use: %v; want both (else the test proves nothing)", invalidated, usable)
	}
	if _, ok := a.cache.jti("victim", time.Now()); ok {
		t.Error("the answer read before the invalidation was cached")
	}
	if ok, err := a.JTIRevoked(ctx, "victim"); err != nil || !ok {
		t.Errorf("JTIRevoked(victim) after B revoked it = %v, %v; want true, nil", ok, err)
	}
}

// TestCoalescedCached: answers of a batch are cached.
func TestCoalescedCached(t *testing.T) {
	r := authtest.StartRedis(t)
	s, tc := batchStore(t, r, Options{CacheTTL: MaxCacheTTL})
	waitSubscribed(t, s)
	holders := holdFlights(t, r, &s.subs, s.SubjectRevokedAt)
	keys := []string{"u1", "u2", "u3"}
	wait := lookups(testCtx(t), nil, keys, s.SubjectRevokedAt)
	waitFor(t, "lookups queued", func() bool { return queued(&s.subs) == len(keys) })
	r.Resume()
	holders()
	wait()
	trips := tc.trips.Load()
	for _, k := range keys {
		if _, ok := s.cache.sub(k, time.Now()); !ok {
			t.Errorf("%s: batch answer not cached", k)
		}
	}
	_, _ = s.SubjectRevokedAt(testCtx(t), "u2")
	if got := tc.trips.Load() - trips; got != 0 {
		t.Errorf("a lookup answered by a batch moments ago cost %d round trips, want 0", got)
	}
}
