package redisstore

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// TestSubscriptionUp follows a real Redis: up once subscribed, down when
// the server stops, up again after it restarts.
func TestSubscriptionUp(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}})
	waitUp := func(want bool, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for s.SubscriptionUp() != want {
			if time.Now().After(deadline) {
				t.Fatalf("SubscriptionUp() still %v 30s %s", !want, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitUp(true, "after start")
	r.Stop()
	waitUp(false, "after Redis stopped")
	r.Restart()
	waitUp(true, "after Redis restarted")
}
