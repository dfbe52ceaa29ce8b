package memstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Fixture {
		return storetest.Fixture{Store: New(now)} // every expiry reads now
	})
}

// fakeClock is a settable clock for tests of the sweep.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestSweepDropsExpired(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := New(clk.Now)
	defer s.Close()
	ctx := context.Background()
	_ = s.RevokeJTI(ctx, "short", clk.Now().Add(time.Minute))
	_ = s.RevokeJTI(ctx, "long", clk.Now().Add(time.Hour))
	_ = s.CreateSession(ctx, auth.SessionRecord{Key: "k1", User: "alice"}, time.Minute, 0)
	_ = s.CreateSession(ctx, auth.SessionRecord{Key: "k2", User: "alice"}, time.Hour, 0)
	_ = s.CreateSession(ctx, auth.SessionRecord{Key: "k3", User: "bob"}, time.Minute, 0)
	clk.Add(2 * time.Minute)
	s.sweep()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.jtis["short"]; ok {
		t.Errorf("expired jti still held after sweep")
	}
	if _, ok := s.jtis["long"]; !ok {
		t.Errorf("live jti dropped by sweep")
	}
	if got, want := len(s.sessions), 1; got != want {
		t.Errorf("got %d sessions after sweep, want %d", got, want)
	}
	if _, ok := s.byUser["bob"]; ok {
		t.Errorf("index of a user without sessions still held after sweep")
	}
	if got, want := len(s.byUser["alice"]), 1; got != want {
		t.Errorf("got %d index entries for alice, want %d", got, want)
	}
}

func TestFakeClockExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := New(clk.Now)
	defer s.Close()
	ctx := context.Background()
	_ = s.RevokeJTI(ctx, "j", clk.Now().Add(time.Hour))
	_ = s.CreateSession(ctx, auth.SessionRecord{Key: "k", User: "alice"}, 30*time.Minute, 0)
	clk.Add(29 * time.Minute)
	if _, err := s.TouchSession(ctx, "k", 30*time.Minute); err != nil {
		t.Fatalf("touch before idle timeout: %v", err)
	}
	clk.Add(30*time.Minute + 59*time.Second) // 1s before exp, 30m59s after the touch
	if ok, _ := s.JTIRevoked(ctx, "j"); !ok {
		t.Errorf("got jti not revoked 1s before exp, want revoked until exp")
	}
	if _, err := s.TouchSession(ctx, "k", 30*time.Minute); err != auth.ErrNotFound {
		t.Errorf("got %v after idle timeout, want auth.ErrNotFound", err)
	}
	clk.Add(time.Second)
	if ok, _ := s.JTIRevoked(ctx, "j"); ok {
		t.Errorf("got jti revoked after exp, want not revoked")
	}
}

func TestJTIRevokedDoesNotAllocate(t *testing.T) {
	s := New(nil)
	defer s.Close()
	ctx := context.Background()
	_ = s.RevokeJTI(ctx, "hot", time.Now().Add(time.Hour))
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = s.JTIRevoked(ctx, "hot")
		_, _ = s.JTIRevoked(ctx, "cold")
		_, _ = s.SubjectRevokedAt(ctx, "alice")
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per lookup, want 0", allocs)
	}
}

func TestCloseTwice(t *testing.T) {
	s := New(nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkJTIRevoked(b *testing.B) {
	s := New(nil)
	defer s.Close()
	ctx := context.Background()
	_ = s.RevokeJTI(ctx, "hot", time.Now().Add(time.Hour))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _ := s.JTIRevoked(ctx, "hot"); !ok {
				b.Fatal("hot jti not revoked")
			}
		}
	})
}
