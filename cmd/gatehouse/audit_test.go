package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// auditTestConfig: the token endpoint, the login form, the admin API, on
// the store {{store}} (Redis at {{redis}}).
const auditTestConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}", token_file: "{{dir}}/admin.token"}
trusted_proxies: ["127.0.0.1"]
store: {type: {{store}}, redis: {addrs: ["{{redis}}"]}}
audit: {max_events: 50}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
routes:
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

type auditEventJSON struct {
	Time      int64  `json:"time"`
	Kind      string `json:"kind"`
	User      string `json:"user"`
	Actor     string `json:"actor"`
	IP        string `json:"ip"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

func startAudit(t *testing.T, store, redisAddr, key string) *instance {
	t.Helper()
	cfg := strings.NewReplacer("{{store}}", store, "{{redis}}", redisAddr).Replace(auditTestConfig)
	in := startGatehouse(t, cfg, map[string]string{
		"users.yaml": admUsersYAML(), "issuing.pem": key, "admin.token": admAdminToken + "\n",
	})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	return in
}

func auditEvents(t *testing.T, in *instance, query string) []auditEventJSON {
	t.Helper()
	status, body := adminDo(t, in, "Bearer "+admAdminToken, "GET", "/admin/audit"+query, "")
	if status != http.StatusOK {
		t.Fatalf("GET /admin/audit%s: %d %s", query, status, body)
	}
	var out struct {
		Events []auditEventJSON `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Events == nil {
		t.Fatalf("GET /admin/audit%s: %v in %s", query, err, body)
	}
	return out.Events
}

// TestAuditTrailTwoReplicas: events of every kind the proxy writes are
// kept in the Redis stream and served, filtered, by either replica's
// GET /admin/audit, newest first; none holds a secret.
func TestAuditTrailTwoReplicas(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	key := signingKey(t, "ES256")
	a := startAudit(t, "redis", r.Addr, key)
	b := startAudit(t, "redis", r.Addr, key)

	// login_failure and login on A's form, logout on A.
	status, _ := postForm(t, a.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"}})
	if status != http.StatusBadRequest {
		t.Fatalf("bad password grant: %d", status)
	}
	cookie := browserLogin(t, a.URL)
	// refresh_reuse on B: grant, refresh, reuse.
	// The victim signs in and refreshes from 203.0.113.5; the thief
	// replays the spent token from 198.51.100.9 (through a trusted proxy).
	status, body := postFrom(t, b.URL+"/.gatehouse/token", "203.0.113.5", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {admAlicePassword}})
	_, rt1 := grantTokens(t, status, body)
	status, body = postFrom(t, b.URL+"/.gatehouse/token", "203.0.113.5", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	_, rt2 := grantTokens(t, status, body)
	if s, _ := postFrom(t, b.URL+"/.gatehouse/token", "198.51.100.9", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}); s != http.StatusBadRequest {
		t.Fatalf("reuse: %d", s)
	}
	// forced_logout through A's admin API.
	adminOK(t, a, "DELETE", "/admin/sessions?user=alice", "", `{"deleted":1}`)
	adminOK(t, b, "POST", "/admin/revoke", `{"subject": "alice"}`, `{"revoked":"subject"}`)

	got := auditEvents(t, b, "")
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Kind)
		for _, secret := range []string{cookie, rt1, rt2, admAlicePassword, admAdminToken} {
			if strings.Contains(e.Detail+e.User+e.Actor, secret) {
				t.Errorf("event %+v holds a secret", e)
			}
		}
		if e.Time == 0 || e.IP == "" || e.RequestID == "" {
			t.Errorf("event lacks time, ip or request id: %+v", e)
		}
	}
	want := []string{"revocation", "forced_logout", "refresh_reuse", "login", "login", "login_failure"}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("kinds newest first: %v, want %v", kinds, want)
	}
	if got[0].Actor != "admin-api" || got[0].User != "alice" || got[1].Actor != "admin-api" || got[1].User != "alice" {
		t.Errorf("admin events: %+v %+v", got[0], got[1])
	}
	reuse := got[2]
	if reuse.User != "alice" || !strings.Contains(reuse.Detail, "family ") || !strings.Contains(reuse.Detail, "family revoked") ||
		!strings.Contains(reuse.Detail, "last issued to 203.0.113.5") || !strings.Contains(reuse.Detail, "reused from 198.51.100.9") ||
		reuse.IP != "198.51.100.9" {
		t.Errorf("refresh_reuse event: %+v", reuse)
	}
	if f := auditEvents(t, a, "?kind=login&user=alice&limit=1"); len(f) != 1 || f[0].Kind != "login" || f[0].Detail != "password grant" {
		t.Errorf("filtered on A: %+v", f)
	}
	if f := auditEvents(t, a, "?user=bob"); len(f) != 0 {
		t.Errorf("user=bob: %+v", f)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?kind=nope", "?user=a&user=b", "?what=1"} {
		status, body := adminDo(t, a, "Bearer "+admAdminToken, "GET", "/admin/audit"+q, "")
		if status != http.StatusBadRequest || !strings.Contains(body, `"error":"invalid_request"`) {
			t.Errorf("GET /admin/audit%s: %d %s, want 400 invalid_request", q, status, body)
		}
	}
	if status, _ := adminDo(t, a, "", "GET", "/admin/audit", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /admin/audit without the token: %d", status)
	}
	// Each replica counts the events it wrote.
	_, ma := get(t, a.AdminURL+"/metrics")
	_, mb := get(t, b.AdminURL+"/metrics")
	for _, w := range []string{`gatehouse_audit_events_total{kind="login"} 1`, `gatehouse_audit_events_total{kind="login_failure"} 1`,
		`gatehouse_audit_events_total{kind="forced_logout"} 1`} {
		if !strings.Contains(ma, w) {
			t.Errorf("A's metrics lack %s", w)
		}
	}
	for _, w := range []string{`gatehouse_audit_events_total{kind="refresh_reuse"} 1`, `gatehouse_audit_events_total{kind="revocation"} 1`} {
		if !strings.Contains(mb, w) {
			t.Errorf("B's metrics lack %s", w)
		}
	}
}

// TestAuditTrailMemoryCap: the memory store keeps the newest
// audit.max_events.
func TestAuditTrailMemoryCap(t *testing.T) {
	t.Parallel()
	in := startAudit(t, "memory", "127.0.0.1:1", signingKey(t, "ES256"))
	for range 60 {
		postForm(t, in.URL+"/.gatehouse/token", url.Values{
			"grant_type": {"password"}, "username": {"nobody"}, "password": {"x"}})
	}
	// The rate limiter refuses most of them; those refused are not events.
	got := auditEvents(t, in, "?limit=1000")
	if len(got) == 0 || len(got) > 50 {
		t.Fatalf("kept %d events, want 1..50", len(got))
	}
	for range 60 {
		adminOK(t, in, "DELETE", "/admin/sessions?user=x", "", `{"deleted":0}`)
	}
	got = auditEvents(t, in, "?limit=1000")
	if len(got) != 50 {
		t.Errorf("kept %d events, want audit.max_events = 50", len(got))
	}
}

// postFrom posts v as a client at ip behind a trusted proxy (X-Forwarded-For)
// and decodes the JSON answer.
func postFrom(t *testing.T, u, ip string, v url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
