package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
)

// With the store down every call answers 503 within the store's timeout,
// and the audit line carries the cause.
func TestAPIStoreUnavailable(t *testing.T) {
	r := authtest.StartRedis(t)
	s, err := redisstore.New(redisstore.Options{Addrs: []string{r.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := newAPIEnv(t, s)
	if status, b := e.admin(t, http.MethodPost, "/admin/revoke", `{"subject": "bob"}`); status != 200 {
		t.Fatalf("with Redis up: got %d %s, want 200", status, b)
	}
	r.Stop()
	future := time.Now().Add(time.Hour).Unix()
	calls := []struct{ method, path, body string }{
		{http.MethodPost, "/admin/revoke", `{"subject": "bob"}`},
		{http.MethodPost, "/admin/revoke", `{"jti": "j1", "exp": ` + strconvI(future) + `}`},
		{http.MethodGet, "/admin/sessions?user=alice", ""},
		{http.MethodDelete, "/admin/sessions?user=alice", ""},
		{http.MethodDelete, "/admin/sessions/" + strings.Repeat("A", 43), ""},
	}
	for _, c := range calls {
		start := time.Now()
		status, b := e.admin(t, c.method, c.path, c.body)
		if status != http.StatusServiceUnavailable || !strings.Contains(b, "store_unavailable") {
			t.Errorf("%s %s with Redis down: got %d %s, want 503 store_unavailable", c.method, c.path, status, b)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s %s took %v with Redis down, want about the store timeout", c.method, c.path, d)
		}
	}
	if !strings.Contains(e.logs.String(), `"level":"ERROR"`) || !strings.Contains(e.logs.String(), `"error":"redisstore`) {
		t.Errorf("no error audit line with the cause:\n%s", e.logs)
	}
}
