package main

import (
	"context"
	"crypto/tls"
	"errors"
	"time"
)

// How often watchStore checks the store: seldom while it answers (a failed
// store call triggers a check at once), often while it does not, so that
// /readyz turns 200 soon after the store is back.
const (
	storeCheckUp   = time.Second
	storeCheckDown = 50 * time.Millisecond
)

// storeCalled hears of every store command. A failure while the store is
// considered up asks watchStore to check it now, so that /readyz turns 503
// within one store timeout of the first failed call rather than at the
// next periodic check. The check itself decides: a failed call alone (a
// client that went away, a slow command) does not make the store down.
func (s *server) storeCalled(op string, err error) {
	if err == nil || op == "ping" || !s.storeUp.Load() {
		return
	}
	select {
	case s.storeKick <- struct{}{}:
	default:
	}
}

// watchStore pings the store for /readyz: every storeCheckUp while it
// answers, every storeCheckDown while it does not, and at once when a store
// call fails (at most once per storeCheckDown).
func (s *server) watchStore(ctx context.Context, timeout time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	first := true
	for {
		checked := time.Now()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := s.store.Ping(pctx)
		cancel()
		up := err == nil
		switch was := s.storeUp.Swap(up); {
		case up != was && up:
			s.log.Info("store state changed", "up", true, "error", "")
		case up != was:
			s.log.Info("store state changed", append([]any{"up", false}, storeErrAttrs(err)...)...)
		case !up && first:
			// storeUp starts false: say why the store is down from the start.
			s.log.Error("store not answering; /readyz answers 503 until it does", storeErrAttrs(err)...)
		}
		first = false
		next := storeCheckUp
		if !up {
			next = storeCheckDown
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			continue
		case <-s.storeKick:
		}
		// A kick: check now, but not sooner than storeCheckDown after the
		// last check.
		if wait := time.Until(checked.Add(storeCheckDown)); wait > 0 {
			t.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// storeErrAttrs are the log attributes of a store failure, with a hint
// when Redis's TLS certificate did not verify.
func storeErrAttrs(err error) []any {
	attrs := []any{"error", err.Error()}
	if errors.As(err, new(*tls.CertificateVerificationError)) {
		attrs = append(attrs, "hint", "the Redis server's certificate does not verify against store.redis.ca_file "+
			"(the system roots when it is empty), or does not name the host in store.redis.addrs")
	}
	return attrs
}
