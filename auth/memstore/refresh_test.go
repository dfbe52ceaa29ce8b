package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

func TestRefreshSweep(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := New(clk.Now)
	defer s.Close()
	ctx := context.Background()
	_ = s.CreateRefresh(ctx, auth.RefreshRecord{Key: "k1", Family: "f1", Expires: clk.Now().Add(time.Minute)},
		auth.TokenRef{JTI: "j1", Expires: clk.Now().Add(time.Minute)})
	clk.Add(2 * time.Minute)
	_ = s.CreateRefresh(ctx, auth.RefreshRecord{Key: "k2", Family: "f2", Expires: clk.Now().Add(time.Hour)}, auth.TokenRef{})
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.refresh.tokens["k1"]; ok {
		t.Errorf("expired token k1 still stored")
	}
	if _, ok := s.refresh.families["f1"]; ok {
		t.Errorf("expired family f1 still stored")
	}
	if got := len(s.refresh.tokens); got != 1 {
		t.Errorf("got %d tokens, want 1", got)
	}
}
