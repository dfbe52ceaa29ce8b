package jwtauth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httpcc"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Refresh timing of a JWKS (README "Bearer tokens").
const (
	jwksDefaultTTL = 15 * time.Minute
	jwksMinTTL     = time.Minute
	jwksMaxTTL     = time.Hour
	jwksRetryMin   = time.Second // first retry after a failed fetch, doubling
	jwksTimeout    = 10 * time.Second
	jwksMaxBytes   = 1 << 20
	unknownKidGap  = 10 * time.Second // at most one unknown-kid refetch per issuer per gap
)

// jwksSource keeps the last good key set of one issuer's JWKS URL. It is
// safe for concurrent use.
type jwksSource struct {
	issuer    string
	url       string
	client    *http.Client
	logger    *slog.Logger
	onRefresh func(issuer string, err error)
	onChange  func() // called when a fetch replaces a set with different keys
	gap       time.Duration

	set atomic.Pointer[keySet] // nil until the first successful fetch

	mu        sync.Mutex
	inflight  *fetchCall
	lastStart time.Time
}

// fetchCall is one fetch shared by everyone who asked while it ran.
type fetchCall struct {
	done chan struct{}
	ttl  time.Duration
	err  error
}

// keys returns the current set, or nil before the first successful fetch.
func (s *jwksSource) keys() *keySet { return s.set.Load() }

// start begins a fetch unless one is running, or unless one began less
// than minGap ago (then it returns nil). The fetch runs detached from any
// caller's context, so one caller giving up does not fail the others.
func (s *jwksSource) start(minGap time.Duration) *fetchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	if minGap > 0 && !s.lastStart.IsZero() && time.Since(s.lastStart) < minGap {
		return nil
	}
	c := &fetchCall{done: make(chan struct{})}
	s.inflight, s.lastStart = c, time.Now()
	go func() {
		c.ttl, c.err = s.fetch()
		s.onRefresh(s.issuer, c.err)
		s.mu.Lock()
		s.inflight = nil
		s.mu.Unlock()
		close(c.done)
	}()
	return c
}

// refetch fetches the JWKS again for a token whose kid is unknown, at most
// once per gap, and returns the set then current.
func (s *jwksSource) refetch(ctx context.Context) *keySet {
	if c := s.start(s.gap); c != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	}
	return s.keys()
}

// run refreshes the set until ctx is done, honouring the server's caching
// headers and backing off after failures.
func (s *jwksSource) run(ctx context.Context) {
	backoff := jwksRetryMin
	for {
		c := s.start(0)
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		}
		wait := c.ttl
		if c.err != nil {
			wait = backoff
			backoff = min(2*backoff, jwksMinTTL)
		} else {
			backoff = jwksRetryMin
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// fetch downloads and installs the key set, returning how long it may be
// kept. On failure the previous set stays in place.
func (s *jwksSource) fetch() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return 0, fmt.Errorf("fetch JWKS %s: %w", s.url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch JWKS %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch JWKS %s: status %d", s.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return 0, fmt.Errorf("fetch JWKS %s: %w", s.url, err)
	}
	if len(body) > jwksMaxBytes {
		return 0, fmt.Errorf("fetch JWKS %s: larger than %d bytes", s.url, jwksMaxBytes)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return 0, fmt.Errorf("parse JWKS %s: %w", s.url, err)
	}
	keys, skipped := jwkKeys(set, true)
	for _, e := range skipped {
		s.logger.Warn("JWKS key skipped", "issuer", s.issuer, "url", s.url, "error", e)
	}
	if len(keys) == 0 {
		return 0, fmt.Errorf("parse JWKS %s: no usable signing keys", s.url)
	}
	next := newKeySet(keys)
	if prev := s.set.Swap(next); prev != nil && !sameKeys(prev, next) && s.onChange != nil {
		s.onChange()
	}
	return cacheTTL(resp.Header, time.Now()), nil
}

// sameKeys reports whether b holds every key of a (by kid), so that nothing
// a cached token was verified with has been withdrawn.
func sameKeys(a, b *keySet) bool {
	for kid := range a.byKid {
		if _, ok := b.byKid[kid]; !ok {
			return false
		}
	}
	return true
}

// cacheTTL reads Cache-Control max-age (or Expires) and clamps it to
// [jwksMinTTL, jwksMaxTTL]; without either it is jwksDefaultTTL.
func cacheTTL(h http.Header, now time.Time) time.Duration {
	ttl := jwksDefaultTTL
	if cc := h.Get("Cache-Control"); cc != "" {
		if d, err := httpcc.ParseResponse(cc); err == nil {
			if age, ok := d.MaxAge(); ok {
				ttl = time.Duration(min(age, uint64(jwksMaxTTL/time.Second))) * time.Second
			} else if d.NoStore() {
				ttl = 0
			}
			return clampTTL(ttl)
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		if t, err := http.ParseTime(exp); err == nil {
			ttl = t.Sub(now)
		} else {
			ttl = 0 // an invalid Expires means "already expired" (RFC 9111 §5.3)
		}
	}
	return clampTTL(ttl)
}

func clampTTL(d time.Duration) time.Duration {
	return min(max(d, jwksMinTTL), jwksMaxTTL)
}
