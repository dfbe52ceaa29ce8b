package storetest

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// NewAttempts returns empty login-attempt counters, released by t.Cleanup.
type NewAttempts func(t *testing.T) auth.LoginAttempts

// RunAttempts runs the contract cases of auth.LoginAttempts alone, for
// counters that are not part of a store (memstore.Attempts); Run runs them
// too on a store that keeps attempts. The rates are per minute, so that no
// bucket refills during a test, even on a slow machine.
func RunAttempts(t *testing.T, newAttempts NewAttempts) {
	runAttempts(t, newAttempts)
}

func runAttempts(t *testing.T, newAttempts NewAttempts) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s auth.LoginAttempts)
	}{
		{"PerUserAndPerIP", testAttemptsPerUserAndPerIP},
		{"RefundAndClear", testAttemptsRefundAndClear},
		{"ConcurrentReserve", testAttemptsConcurrent},
		{"WeirdUsers", testAttemptsWeirdUsers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newAttempts(t))
		})
	}
}

var (
	perUser3 = auth.Rate{N: 3, Per: time.Minute}
	perIP5   = auth.Rate{N: 5, Per: time.Minute}
)

func attempt(user, ip string) auth.Attempt {
	return auth.Attempt{User: user, IP: netip.MustParseAddr(ip), PerUser: perUser3, PerIP: perIP5}
}

func reserve(t *testing.T, s auth.LoginAttempts, a auth.Attempt) time.Duration {
	t.Helper()
	wait, err := s.ReserveAttempt(context.Background(), a)
	if err != nil {
		t.Fatalf("ReserveAttempt(%q, %v): %v", a.User, a.IP, err)
	}
	return wait
}

func testAttemptsPerUserAndPerIP(t *testing.T, s auth.LoginAttempts) {
	alice := attempt("alice", "192.0.2.1")
	for i := range 3 {
		if w := reserve(t, s, alice); w != 0 {
			t.Fatalf("attempt %d of 3/min: wait %v, want 0", i+1, w)
		}
	}
	// The bucket refills one attempt per 20 s.
	if w := reserve(t, s, alice); w <= 0 || w > 20*time.Second {
		t.Errorf("4th attempt of 3/min: wait %v, want in (0, 20s]", w)
	}
	if w := reserve(t, s, attempt("alice", "192.0.2.2")); w != 0 {
		t.Errorf("alice from another IP: wait %v, want 0", w)
	}
	for _, u := range []string{"bob", "carol"} {
		if w := reserve(t, s, attempt(u, "192.0.2.1")); w != 0 {
			t.Errorf("%s from alice's IP before its limit: wait %v, want 0", u, w)
		}
	}
	// 192.0.2.1 has now spent 5 of 5/min.
	if w := reserve(t, s, attempt("dave", "192.0.2.1")); w <= 0 || w > 12*time.Second {
		t.Errorf("6th attempt from one IP at 5/min: wait %v, want in (0, 12s]", w)
	}
	// A refused attempt takes nothing: dave's own bucket is untouched.
	if err := s.RefundAttempt(context.Background(), attempt("bob", "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if w := reserve(t, s, attempt("dave", "192.0.2.1")); w != 0 {
		t.Errorf("dave after a refund to the IP: wait %v, want 0", w)
	}
}

func testAttemptsRefundAndClear(t *testing.T, s auth.LoginAttempts) {
	ctx := context.Background()
	a := attempt("erin", "2001:db8::1")
	for range 3 {
		reserve(t, s, a)
	}
	if err := s.RefundAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	if w := reserve(t, s, a); w != 0 {
		t.Errorf("after a refund: wait %v, want 0", w)
	}
	if w := reserve(t, s, a); w == 0 {
		t.Error("a refund gave back more than one attempt")
	}
	if err := s.ClearAttempts(ctx, a); err != nil {
		t.Fatal(err)
	}
	// Cleared: three attempts again for (erin, IP), which fills the IP
	// bucket (4 reserved before, 1 given back by the clear): the clear
	// gave the IP one attempt back, not all.
	for i := range 3 {
		if w := reserve(t, s, a); w != 0 {
			t.Fatalf("attempt %d after a clear: wait %v, want 0", i+1, w)
		}
	}
	if w := reserve(t, s, attempt("heidi", "2001:db8::1")); w == 0 {
		t.Error("the clear gave the IP bucket more than one attempt back")
	}
	// Refunding a full bucket leaves it full, not fuller.
	b := attempt("frank", "198.51.100.1")
	for range 4 {
		if err := s.RefundAttempt(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		reserve(t, s, b)
	}
	if w := reserve(t, s, b); w == 0 {
		t.Error("refunds of a full bucket were banked")
	}
}

func testAttemptsConcurrent(t *testing.T, s auth.LoginAttempts) {
	a := attempt("grace", "203.0.113.9")
	var wg sync.WaitGroup
	var got atomic.Int32
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait, err := s.ReserveAttempt(context.Background(), a)
			if err == nil && wait == 0 {
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := got.Load(); n != 3 {
		t.Errorf("40 concurrent reservations at 3/min: %d taken, want 3", n)
	}
}

func testAttemptsWeirdUsers(t *testing.T, s auth.LoginAttempts) {
	for _, u := range []string{"", "*", "a}b{c", "x\r\nDEL *", strings.Repeat("é", 20000)} {
		a := attempt(u, "192.0.2.200")
		a.PerIP = auth.Rate{N: 100, Per: time.Minute}
		for range 3 {
			if w := reserve(t, s, a); w != 0 {
				t.Fatalf("user %.20q: wait %v", u, w)
			}
		}
		if w := reserve(t, s, a); w == 0 {
			t.Errorf("user %.20q: 4th attempt of 3/min taken", u)
		}
	}
}
