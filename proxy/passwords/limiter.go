// Package passwords runs password attempts under the login limits
// (README "Login throttling"): attempts counted before the password check, a bound on
// concurrent checks. The login form (proxy/login) and the password grant
// (proxy/tokens) share one Limiter; it is its own package so that neither
// endpoint imports the other.
package passwords

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// DefaultCheckWait is how long a password attempt waits for a free
// password check before it is refused (429).
const DefaultCheckWait = 2 * time.Second

// busyRetryAfter is the Retry-After of an attempt refused because too many
// password checks were running.
const busyRetryAfter = time.Second

// Rate is a rate such as login.rate "5/min": N events per Per. Config
// parses the text (config.ParseRate is the one grammar); this package only
// takes the parsed value.
type Rate = auth.Rate

// LimiterOptions configures a Limiter. Counts is required.
type LimiterOptions struct {
	// Rate and ClientRate are login.rate and login.client_rate: attempts
	// per (username, client IP) and per client IP. Both are required (N ≥ 1
	// and Per > 0).
	Rate, ClientRate Rate
	// Counts keeps the attempt counters: the store's, so that replicas on
	// one Redis share them. Must not be nil.
	Counts auth.LoginAttempts
	// Fallback counts attempts while Counts cannot answer (a Redis
	// outage): each replica then allows the limits on its own. nil: such
	// attempts are refused as unavailable (503).
	Fallback auth.LoginAttempts
	// MaxChecks bounds the password checks running at once; 0 means
	// 2 × GOMAXPROCS.
	MaxChecks int
	// CheckWait is how long an attempt waits for a free check before it
	// is refused with 429; 0 means DefaultCheckWait.
	CheckWait time.Duration
	// Logger receives counter failures (at most one line a minute); nil
	// discards them.
	Logger *slog.Logger
}

// Limiter runs password attempts under the login limits (README "Login throttling"):
// each attempt is counted before its password is checked, so N concurrent
// guesses get at most the limit's worth of checks; a successful login
// gives its attempt back and clears its (username, IP) counter; at most
// MaxChecks password checks run at once. The login form and the password
// grant share one Limiter. Safe for concurrent use; a nil *Limiter checks
// every attempt, unlimited.
type Limiter struct {
	perUser, perIP Rate
	counts         auth.LoginAttempts
	fallback       auth.LoginAttempts
	checks         chan struct{} // one token per running password check
	wait           time.Duration
	log            *slog.Logger
	logs           *httpx.LogLimiter
}

// NewLimiter returns a Limiter for o.
func NewLimiter(o LimiterOptions) (*Limiter, error) {
	if o.Rate.N < 1 || o.Rate.Per <= 0 {
		return nil, fmt.Errorf("login limiter: rate %d/%s: want at least 1 per positive period", o.Rate.N, o.Rate.Per)
	}
	if o.ClientRate.N < 1 || o.ClientRate.Per <= 0 {
		return nil, fmt.Errorf("login limiter: client rate %d/%s: want at least 1 per positive period", o.ClientRate.N, o.ClientRate.Per)
	}
	if o.Counts == nil {
		return nil, errors.New("login limiter: no attempt counters")
	}
	if o.MaxChecks <= 0 {
		o.MaxChecks = 2 * runtime.GOMAXPROCS(0)
	}
	if o.CheckWait <= 0 {
		o.CheckWait = DefaultCheckWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Limiter{perUser: o.Rate, perIP: o.ClientRate, counts: o.Counts, fallback: o.Fallback,
		checks: make(chan struct{}, o.MaxChecks), wait: o.CheckWait,
		log: o.Logger, logs: httpx.NewLogLimiter(o.Logger, nil)}, nil
}

// Outcome is how a password attempt ended.
type Outcome int

// The outcomes of Limiter.Check.
const (
	// Failed: a wrong or empty username or password (401, invalid_grant).
	Failed Outcome = iota
	// Succeeded: Result.User is who logged in.
	Succeeded
	// Limited: too many attempts; retry after Result.RetryAfter (429).
	Limited
	// Busy: too many password checks at once; retry after
	// Result.RetryAfter (429).
	Busy
	// Unavailable: the counters could not answer (503); Result.Err says
	// why.
	Unavailable
)

// Checker checks a username and password; *users.Directory and
// *users.Watcher implement it. (Authenticate is the word for a request
// turned into an identity, Verify for a token.)
type Checker interface {
	CheckPassword(username, password string) (users.User, bool)
}

// Result is the answer of Limiter.Check.
type Result struct {
	Outcome    Outcome
	User       users.User    // Succeeded
	RetryAfter time.Duration // Limited, Busy
	Err        error         // Unavailable
}

// RetryAfterSeconds is RetryAfter in whole seconds, at least 1, for the
// Retry-After header.
func (r Result) RetryAfterSeconds() string {
	return strconv.FormatInt(int64(max(1, (r.RetryAfter+time.Second-1)/time.Second)), 10)
}

// Check runs one password attempt by user from ip against who: counted
// first (Limited when over a limit), then checked when a check is free
// (Busy after waiting CheckWait or until ctx ends). An empty username or
// password is counted and fails unchecked.
func (l *Limiter) Check(ctx context.Context, who Checker, user, password string, ip netip.Addr) Result {
	if l == nil {
		return check(who, user, password)
	}
	a := auth.Attempt{User: user, IP: ip, PerUser: l.perUser, PerIP: l.perIP}
	counts, wait, err := l.reserve(ctx, a)
	switch {
	case err != nil:
		return Result{Outcome: Unavailable, Err: err}
	case wait > 0:
		return Result{Outcome: Limited, RetryAfter: wait}
	case user == "" || password == "":
		return Result{Outcome: Failed}
	}
	if !l.acquire(ctx) {
		if err := counts.RefundAttempt(context.WithoutCancel(ctx), a); err != nil {
			l.counterFailed("refund", err)
		}
		return Result{Outcome: Busy, RetryAfter: busyRetryAfter}
	}
	res := check(who, user, password)
	<-l.checks
	if res.Outcome == Succeeded {
		if err := counts.ClearAttempts(context.WithoutCancel(ctx), a); err != nil {
			l.counterFailed("clear", err)
		}
	}
	return res
}

func check(who Checker, user, password string) Result {
	if user == "" || password == "" {
		return Result{Outcome: Failed}
	}
	u, ok := who.CheckPassword(user, password)
	if !ok {
		return Result{Outcome: Failed}
	}
	return Result{Outcome: Succeeded, User: u}
}

// reserve counts a in the shared counters, or in the fallback while those
// fail; it returns the counters that took the attempt.
func (l *Limiter) reserve(ctx context.Context, a auth.Attempt) (auth.LoginAttempts, time.Duration, error) {
	wait, err := l.counts.ReserveAttempt(ctx, a)
	if err == nil {
		return l.counts, wait, nil
	}
	if ctx.Err() != nil || l.fallback == nil {
		l.counterFailed("reserve", err)
		return nil, 0, fmt.Errorf("count login attempt: %w", err)
	}
	l.counterFailed("reserve (counted locally)", err)
	wait, err = l.fallback.ReserveAttempt(ctx, a)
	if err != nil {
		return nil, 0, fmt.Errorf("count login attempt locally: %w", err)
	}
	return l.fallback, wait, nil
}

// acquire takes a password check, waiting at most l.wait.
func (l *Limiter) acquire(ctx context.Context) bool {
	select {
	case l.checks <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.checks <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *Limiter) counterFailed(op string, err error) {
	if ok, held := l.logs.Allow("login counters failed", netip.Addr{}); ok {
		l.log.Error("login attempt counters failed: "+op, "error", err, "repeated", held)
	}
}
