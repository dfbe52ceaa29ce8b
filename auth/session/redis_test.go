package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
)

// TestRedisStore runs a session's life against a real redis-server:
// login, use, subject revocation, logout, and an outage.
func TestRedisStore(t *testing.T) {
	r := authtest.StartRedis(t)
	st, err := redisstore.New(redisstore.Options{Addrs: []string{r.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := mustNew(t, Options{Store: st, Revocations: st})
	f := &fixture{m: m}
	ctx := context.Background()

	c := f.login(t, alice)
	h := c.Name + "=" + c.Value
	if id, err := f.auth(h); err != nil || id.User != "alice" {
		t.Fatalf("Authenticate = %v, %v; want alice", id, err)
	}
	recs, _, err := st.UserSessions(ctx, "alice", "", 0)
	if err != nil || len(recs) != 1 || HandleFor(recs[0].Key) == "" {
		t.Fatalf("UserSessions = %+v, %v; want one with a handle", recs, err)
	}

	other := f.login(t, alice)
	if err := st.RevokeSubject(ctx, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth(h); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("after subject revocation: err = %v, want ErrRevoked", err)
	}

	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set("Cookie", other.Name+"="+other.Value)
	if err := m.Logout(ctx, w, req); err != nil {
		t.Fatal(err)
	}
	if recs, _, _ := st.UserSessions(ctx, "alice", "", 0); len(recs) != 1 {
		t.Errorf("sessions after logging one of two out = %d, want 1", len(recs))
	}

	r.Stop()
	// Answers cached before the outage (at most 500 ms old) may still be
	// given until the store notices its subscription is gone.
	deadline := time.Now().Add(time.Second)
	for {
		_, err := f.auth(h)
		if errors.Is(err, auth.ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis down: err = %v after 1 s, want ErrUnavailable", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
