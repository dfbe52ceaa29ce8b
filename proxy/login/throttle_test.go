package login

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// countingAuth is an instrumented passwords.Checker: it counts password
// checks and the most running at once, and can hold each check until
// release is closed.
type countingAuth struct {
	inner   passwords.Checker
	release chan struct{} // nil: checks run at once

	calls, running, maxRunning atomic.Int32
}

func (c *countingAuth) CheckPassword(user, pw string) (users.User, bool) {
	c.calls.Add(1)
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for m := c.maxRunning.Load(); n > m && !c.maxRunning.CompareAndSwap(m, n); m = c.maxRunning.Load() {
	}
	if c.release != nil {
		<-c.release
	}
	return c.inner.CheckPassword(user, pw)
}

// waitFor polls cond until it holds or 10 s pass.
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

// throttleEnv is a login handler over lo (and the env's sessions) whose
// password checks go through an instrumented authenticator.
type throttleEnv struct {
	*env
	who  *countingAuth
	csrf *http.Cookie
	tok  string
}

func newThrottleEnv(t *testing.T, dir passwords.Checker, lo passwords.LimiterOptions) *throttleEnv {
	t.Helper()
	e := newEnv(t, nil)
	if lo.Rate.N == 0 {
		lo.Rate, lo.ClientRate = passwords.Rate{N: 5, Per: time.Minute}, passwords.Rate{N: 30, Per: time.Minute}
	}
	if lo.Counts == nil {
		lo.Counts = memstore.NewAttempts(e.clock.Now)
	}
	if lo.Logger == nil {
		lo.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	}
	lim, err := passwords.NewLimiter(lo)
	if err != nil {
		t.Fatal(err)
	}
	te := &throttleEnv{env: e, who: &countingAuth{inner: dir}}
	te.limiter = lim
	te.h = mustNew(t, Options{Sessions: e.sessions, Users: te.who, Limiter: lim, Metrics: e.metrics,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: e.clock.Now})
	te.csrf, te.tok = te.env.csrf(t)
	return te
}

// post sends one login form from ip (safe for concurrent use).
func (te *throttleEnv) post(user, pw, ip string) *http.Response {
	form := url.Values{"username": {user}, "password": {pw}, "rd": {"/"}, "csrf_token": {te.tok}}
	r := httptest.NewRequest("POST", "http://"+testHost+LoginPath, strings.NewReader(form.Encode()))
	r.RemoteAddr = ip + ":40000"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(te.csrf)
	w := httptest.NewRecorder()
	te.h.ServeHTTP(w, r)
	return w.Result()
}

// usersAt writes a users file of name:password pairs hashed at cost.
func usersAt(t *testing.T, cost int, pairs ...string) *users.Directory {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(pairs[i+1]), cost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "- username: %s\n  password_hash: %q\n", pairs[i], h)
	}
	p := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := users.Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// burst sends n logins at once, each from ips(i) as users(i), and returns
// the count of each status.
func (te *throttleEnv) burst(n int, user func(int) string, ip func(int) string) map[int]int {
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res := te.post(user(i), "wrong password", ip(i))
			mu.Lock()
			got[res.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// TestConcurrentGuessesCheckedAtMostLimit is issue 9, item 2: 40
// concurrent wrong passwords for one user from one IP all got a password
// check with a limit of 5/min, because the limit was read before and
// written after the check. Now each attempt is counted before its check.
func TestConcurrentGuessesCheckedAtMostLimit(t *testing.T) {
	// Room for every check at once, so that only the counting limits them.
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{MaxChecks: 40})
	te.who.release = make(chan struct{}) // hold every check: all 40 are in flight at once
	done := make(chan map[int]int)
	go func() {
		done <- te.burst(40, func(int) string { return "alice" }, func(int) string { return "192.0.2.50" })
	}()
	// Checks are held until 5 run; attempts beyond the limit are refused
	// meanwhile (on the old code, all 40 were checked).
	waitFor(t, "5 checks to start", func() bool { return te.who.running.Load() >= 5 })
	close(te.who.release)
	got := <-done
	checks := te.who.calls.Load()
	t.Logf("40 concurrent wrong passwords, limit 5/min: %d password checks, statuses %v", checks, got)
	if checks > 5 {
		t.Errorf("40 concurrent guesses at 5/min got %d password checks, want at most 5", checks)
	}
	if got[http.StatusUnauthorized] != int(checks) || got[http.StatusTooManyRequests] != 40-int(checks) {
		t.Errorf("statuses %v, want %d × 401 and the rest 429", got, checks)
	}
}

// TestConcurrentGuessesPerClientLimit: 40 concurrent guesses for 40
// usernames from one IP get at most login.client_rate (30/min) checks.
func TestConcurrentGuessesPerClientLimit(t *testing.T) {
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{})
	got := te.burst(40, func(i int) string { return "user" + strconv.Itoa(i) }, func(int) string { return "192.0.2.51" })
	if n := te.who.calls.Load(); n > 30 {
		t.Errorf("40 concurrent guesses from one IP at 30/min got %d password checks, want at most 30 (%v)", n, got)
	}
	if got[http.StatusTooManyRequests] < 10 {
		t.Errorf("statuses %v, want at least 10 × 429", got)
	}
}

// costFor returns the bcrypt cost whose check takes about d on this
// machine in this build (the race detector makes bcrypt ~15× slower).
func costFor(t *testing.T, d time.Duration) int {
	h, err := bcrypt.GenerateFromPassword([]byte("x"), 6)
	if err != nil {
		t.Fatal(err)
	}
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		_ = bcrypt.CompareHashAndPassword(h, []byte("y"))
		best = min(best, time.Since(start))
	}
	cost := 6
	for ; cost < 12 && best*2 <= d; cost++ {
		best *= 2
	}
	for ; cost > bcrypt.MinCost && best > d*3/2; cost-- {
		best /= 2
	}
	t.Logf("bcrypt cost %d: about %v a check", cost, best)
	return cost
}

// TestLegitLoginDuringBurst is issue 9, item 2: a burst of 60 guesses
// starved a legitimate login (its store call timed out behind bcrypt).
// With real bcrypt hashes (~50 ms a check: 60 of them take 1.5 s on two
// cores), a correct login by another user from another IP during the
// burst succeeds within 1 s.
func TestLegitLoginDuringBurst(t *testing.T) {
	cost := costFor(t, 50*time.Millisecond)
	te := newThrottleEnv(t, usersAt(t, cost, "alice", alicePassword, "bob", "bob's password"), passwords.LimiterOptions{})
	burstDone := make(chan map[int]int)
	go func() {
		burstDone <- te.burst(60, func(int) string { return "alice" }, func(int) string { return "198.51.100.60" })
	}()
	waitFor(t, "the burst's first check", func() bool { return te.who.calls.Load() > 0 })
	start := time.Now()
	res := te.post("bob", "bob's password", "203.0.113.5")
	took := time.Since(start)
	got := <-burstDone
	t.Logf("bob's login during a burst of 60: %d in %v; burst %v, %d password checks", res.StatusCode, took, got, te.who.calls.Load())
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("bob's correct login during the burst = %d, want 303", res.StatusCode)
	}
	if took > time.Second {
		t.Errorf("bob's correct login during the burst took %v, want ≤ 1s", took)
	}
	if n := te.who.calls.Load(); n > 6 {
		t.Errorf("the burst and bob got %d password checks, want at most 5 + 1", n)
	}
}

// TestPasswordChecksBounded: at most 2 × GOMAXPROCS password checks run at
// once, whatever the number of clients; an attempt that finds none free
// within the wait gets 429 with Retry-After, and its attempt back.
func TestPasswordChecksBounded(t *testing.T) {
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{CheckWait: 20 * time.Second})
	te.who.release = make(chan struct{})
	bound := 2 * runtime.GOMAXPROCS(0)
	done := make(chan map[int]int)
	go func() {
		done <- te.burst(3*bound, func(i int) string { return "u" + strconv.Itoa(i) },
			func(i int) string { return fmt.Sprintf("10.1.%d.%d", i/256, i%256) })
	}()
	waitFor(t, "the checks to fill up", func() bool { return te.who.running.Load() >= int32(bound) })
	close(te.who.release)
	got := <-done
	if m := te.who.maxRunning.Load(); m != int32(bound) {
		t.Errorf("%d password checks ran at once, want exactly the bound %d", m, bound)
	}
	if got[http.StatusUnauthorized] != 3*bound {
		t.Errorf("statuses %v, want %d × 401 (waiters get a check within the wait)", got, 3*bound)
	}

	// One check at a time and a short wait: the second attempt is refused
	// with 429 and Retry-After, and its attempt is refunded.
	te = newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword),
		passwords.LimiterOptions{Rate: passwords.Rate{N: 1, Per: time.Hour}, ClientRate: passwords.Rate{N: 100, Per: time.Hour}, MaxChecks: 1, CheckWait: 50 * time.Millisecond})
	te.who.release = make(chan struct{})
	first := make(chan int)
	go func() { first <- te.post("alice", "wrong", "192.0.2.60").StatusCode }()
	waitFor(t, "the first check", func() bool { return te.who.running.Load() == 1 })
	res := te.post("alice", alicePassword, "192.0.2.61")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
		t.Errorf("attempt with no free check = %d Retry-After %q, want 429 with 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	close(te.who.release)
	if s := <-first; s != http.StatusUnauthorized {
		t.Errorf("first attempt = %d, want 401", s)
	}
	// 1/h: only a refunded attempt lets alice from .61 try again.
	if res := te.post("alice", alicePassword, "192.0.2.61"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("retry after a busy refusal = %d, want 303 (the attempt was not refunded)", res.StatusCode)
	}
}

// TestSuccessClearsCounter: a successful login gives its attempt back and
// clears the (username, IP) counter, so earlier typos do not count
// against the next ones.
func TestSuccessClearsCounter(t *testing.T) {
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{})
	const ip = "192.0.2.70"
	for i := range 4 {
		if res := te.post("alice", "typo", ip); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("typo %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	if res := te.post("alice", alicePassword, ip); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("correct password = %d, want 303", res.StatusCode)
	}
	for i := range 5 {
		if res := te.post("alice", "typo", ip); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("typo %d after a success = %d, want 401 (5/min, counter cleared)", i+1, res.StatusCode)
		}
	}
	if res := te.post("alice", "typo", ip); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("6th typo after the success = %d, want 429", res.StatusCode)
	}
}

// TestLongPasswordFailsLogin: bcrypt reads 72 bytes; a longer password
// whose first 72 bytes are right is an ordinary failure (401), not a
// login and not an error.
func TestLongPasswordFailsLogin(t *testing.T) {
	pw := strings.Repeat("L", users.MaxPasswordBytes)
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "long", pw), passwords.LimiterOptions{})
	for _, extra := range []string{"x", strings.Repeat("L", 900)} {
		if res := te.post("long", pw+extra, "192.0.2.80"); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%d-byte password with the right first 72 bytes = %d, want 401", len(pw+extra), res.StatusCode)
		}
	}
	if res := te.post("long", pw, "192.0.2.80"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the 72-byte password = %d, want 303", res.StatusCode)
	}
}

// TestRefusalLogsClippedAndOncePerMinute is issue 9, item 10: 300
// rate-limited logins with a huge username grew the log by 18 MB. The
// username is clipped to 256 bytes and repeated refusals from one client
// make one line a minute, with the count of the others.
func TestRefusalLogsClippedAndOncePerMinute(t *testing.T) {
	// Per hour, so that the client is still limited a minute later.
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{Rate: passwords.Rate{N: 5, Per: time.Hour}, ClientRate: passwords.Rate{N: 30, Per: time.Hour}})
	huge := strings.Repeat("A", 15<<10) // the login form's body is at most 16 KiB
	for range 300 {
		te.post(huge, "wrong", "192.0.2.90")
	}
	te.clock.Add(time.Minute)
	te.post(huge, "wrong", "192.0.2.90")
	logs := te.logs.String()
	if len(logs) > 10<<10 {
		t.Errorf("300 refused logins wrote %d bytes of log, want < 10 KiB", len(logs))
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if len(line) > 1<<10 {
			t.Errorf("log line of %d bytes, want ≤ 1 KiB: %.200s…", len(line), line)
		}
	}
	if !strings.Contains(logs, `"repeated":294`) {
		t.Errorf("no line reports the 294 rate-limited logins held back:\n%s", logs)
	}
	if strings.Contains(logs, strings.Repeat("A", 300)) {
		t.Error("the username is not clipped")
	}
}

// failingCounts are counters that cannot answer.
type failingCounts struct{ err error }

func (f failingCounts) ReserveAttempt(context.Context, auth.Attempt) (time.Duration, error) {
	return 0, f.err
}
func (f failingCounts) RefundAttempt(context.Context, auth.Attempt) error { return f.err }
func (f failingCounts) ClearAttempts(context.Context, auth.Attempt) error { return f.err }

// TestCountersFailing: when the shared counters cannot answer, attempts
// are counted locally (the fallback) and limited as usual; without a
// fallback they are refused with 503, never checked unlimited.
func TestCountersFailing(t *testing.T) {
	broken := failingCounts{err: fmt.Errorf("redis: connection refused")}
	te := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword),
		passwords.LimiterOptions{Counts: broken, Fallback: memstore.NewAttempts(nil)})
	for i := range 5 {
		if res := te.post("alice", "wrong", "192.0.2.100"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d with the fallback = %d, want 401", i+1, res.StatusCode)
		}
	}
	if res := te.post("alice", "wrong", "192.0.2.100"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("6th guess with the fallback = %d, want 429", res.StatusCode)
	}
	if res := te.post("alice", alicePassword, "192.0.2.101"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("correct login with the fallback = %d, want 303", res.StatusCode)
	}
	if n := strings.Count(te.logs.String(), "login attempt counters failed"); n != 1 {
		t.Errorf("%d lines for the failing counters, want 1 a minute", n)
	}

	te = newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{Counts: broken})
	if res := te.post("alice", alicePassword, "192.0.2.102"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("login with failing counters and no fallback = %d, want 503", res.StatusCode)
	}
	if n := te.who.calls.Load(); n != 0 {
		t.Errorf("%d password checks without counters, want 0", n)
	}
}
