package login

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/proxy"
)

// downBearer verifies every token but cannot read the revocation list.
type downBearer struct{}

func (downBearer) Verify(context.Context, string) (*auth.Identity, error) {
	return &auth.Identity{Subject: "carol", User: "carol", Method: auth.MethodJWT},
		&auth.Error{Kind: auth.ErrUnavailable, Description: "revocation check unavailable"}
}

// TestUserinfoFollowsOnError: userinfo asks the proxy's decision, so
// store.on_error applies to it as to every route. Before, userinfo decided
// on its own and answered 503 where a route with auth: any let the same
// token through under on_error: allow; config's rule (on_error) now wins.
func TestUserinfoFollowsOnError(t *testing.T) {
	for _, tt := range []struct {
		allow  bool
		status int
	}{{false, http.StatusServiceUnavailable}, {true, http.StatusOK}} {
		e := newEnv(t, nil)
		e.h = mustNew(t, Options{Sessions: e.sessions, Users: usersAt(t, 4, "alice", alicePassword), Logger: slog.New(slog.DiscardHandler),
			Decider: proxy.NewDecider(proxy.DeciderOptions{Bearer: downBearer{}, Sessions: e.sessions, AllowOnStoreError: tt.allow})})
		res := e.do(t, request{method: "GET", path: UserinfoPath, header: map[string]string{"Authorization": "Bearer t"}})
		if res.StatusCode != tt.status {
			t.Errorf("on_error allow=%v: userinfo = %d %s, want %d", tt.allow, res.StatusCode, res.body, tt.status)
		}
	}
}
