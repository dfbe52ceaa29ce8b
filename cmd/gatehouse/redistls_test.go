package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// redisCAConfig is a session route on a TLS-only Redis whose certificate a
// private CA issued, trusted through store.redis.ca_file.
const redisCAConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
store:
  type: redis
  timeout: 500ms
  redis: {addrs: ["{{redis}}"], tls: true, ca_file: "{{ca}}"}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

// TestRedisTLSCAFile: with store.redis.ca_file naming the CA that issued
// a TLS-only Redis's certificate, Gatehouse is ready and a session login
// is stored in that Redis; with another CA it stays unready (503) and the
// log says that the certificate did not verify.
func TestRedisTLSCAFile(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	r := authtest.StartRedisTLS(t, ca)
	cfg := func(caFile string) string {
		return strings.NewReplacer("{{redis}}", r.Addr, "{{ca}}", caFile).Replace(redisCAConfig)
	}

	good := startGatehouse(t, cfg(ca.CertFile), map[string]string{"users.yaml": sessUsersYAML(t)})
	waitStatus(t, 5*time.Second, http.StatusOK, good.AdminURL+"/readyz")
	w := newWebClient(t, good.URL)
	w.mustLogin("alice", sessAlicePassword, "/app")
	if got := w.upstreamSaw("/app").Headers["X-Auth-User"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("after login over Redis TLS: upstream saw X-Auth-User %q, want [alice]", got)
	}
	keys, err := r.Client(t).Keys(context.Background(), "gatehouse:session:*").Result()
	if err != nil || len(keys) != 1 {
		t.Errorf("sessions in the TLS Redis: %q (%v), want one", keys, err)
	}

	other := authtest.NewCA(t)
	bad := startGatehouse(t, cfg(other.CertFile), map[string]string{"users.yaml": sessUsersYAML(t)})
	waitLog(t, bad, 10*time.Second, "store not answering")
	resp, body := get(t, bad.AdminURL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Redis certificate from another CA: /readyz %d, want 503; body %s", resp.StatusCode, body)
	}
	log := bad.stdout.String()
	for _, want := range []string{"certificate signed by unknown authority", "store.redis.ca_file"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
