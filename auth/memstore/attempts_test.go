package memstore

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/storetest"
)

func TestAttemptsContract(t *testing.T) {
	storetest.RunAttempts(t, func(t *testing.T) auth.LoginAttempts { return NewAttempts(nil) })
}

// TestAttemptsRefillAndBound checks the token-bucket refill on a fake
// clock and that memory stays bounded however many clients there are.
func TestAttemptsRefillAndBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := NewAttempts(func() time.Time { return now })
	s.max = 1000
	ctx := context.Background()
	a := auth.Attempt{User: "u", IP: netip.MustParseAddr("192.0.2.1"),
		PerUser: auth.Rate{N: 5, Per: time.Minute}, PerIP: auth.Rate{N: 30, Per: time.Minute}}
	for range 5 {
		if w, _ := s.ReserveAttempt(ctx, a); w != 0 {
			t.Fatalf("wait %v within the limit", w)
		}
	}
	w, _ := s.ReserveAttempt(ctx, a)
	if w != 12*time.Second {
		t.Errorf("6th of 5/min: wait %v, want 12s", w)
	}
	now = now.Add(w)
	if w, _ := s.ReserveAttempt(ctx, a); w != 0 {
		t.Errorf("after the wait: wait %v, want 0", w)
	}
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range 5000 {
		ip := base
		ip[2], ip[3] = byte(i>>8), byte(i)
		b := a
		b.IP = netip.AddrFrom4(ip)
		_, _ = s.ReserveAttempt(ctx, b)
	}
	if n := s.Len(); n > s.max+2 {
		t.Errorf("buckets = %d after 5000 IPs, want ≤ %d", n, s.max+2)
	}
	now = now.Add(2 * time.Minute) // every bucket refills
	a.IP = netip.MustParseAddr("192.0.2.9")
	_, _ = s.ReserveAttempt(ctx, a)
	if n := s.Len(); n != 2 {
		t.Errorf("buckets = %d after the idle sweep, want 2", n)
	}
}
