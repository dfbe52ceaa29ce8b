package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testToken = "s3cret-admin-token-0123456789abcdef"

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

type apiEnv struct {
	srv   *httptest.Server
	store auth.Store
	m     *metrics.Metrics
	logs  *syncBuffer
	now   time.Time
}

// newAPIEnv serves the admin listener with the API over a memory store, on
// a loopback httptest server.
func newAPIEnv(t *testing.T, store auth.Store) *apiEnv {
	t.Helper()
	e := &apiEnv{store: store, logs: &syncBuffer{}, now: time.Now()}
	if e.store == nil {
		ms := memstore.New(nil)
		t.Cleanup(func() { ms.Close() })
		e.store = ms
	}
	reg := prometheus.NewRegistry()
	e.m = metrics.New(reg, "test")
	api, err := NewAPI(APIOptions{
		Token: []byte(testToken), Store: e.store, Metrics: e.m,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(New(Options{Gatherer: reg, API: api}))
	t.Cleanup(e.srv.Close)
	return e
}

// do sends method path with body and the given Authorization header (none
// when ""), and returns the status, headers and body.
func (e *apiEnv) do(t *testing.T, method, path, authz, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// admin sends an authorized call.
func (e *apiEnv) admin(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	status, _, b := e.do(t, method, path, "Bearer "+testToken, body)
	return status, b
}

func TestAPIRefusesWithoutTheToken(t *testing.T) {
	e := newAPIEnv(t, nil)
	const wrong = "wrong-token-ffffffffffffffffffffff"
	cases := []struct{ name, path, authz string }{
		{"no header", "/admin/sessions?user=alice", ""},
		{"wrong token", "/admin/sessions?user=alice", "Bearer " + wrong},
		{"basic scheme", "/admin/sessions?user=alice", "Basic " + testToken},
		{"token prefix", "/admin/sessions?user=alice", "Bearer " + testToken[:10]},
		{"token in query", "/admin/sessions?user=alice&token=" + testToken, ""},
		{"access_token in query", "/admin/sessions?user=alice&access_token=" + testToken, ""},
		{"query token with the right header", "/admin/sessions?user=alice&token=" + testToken, "Bearer " + testToken},
		{"unknown path", "/admin/nope", "Bearer " + wrong},
	}
	for _, c := range cases {
		status, h, body := e.do(t, http.MethodGet, c.path, c.authz, "")
		if status != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", c.name, status)
		}
		if got := h.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q, want Bearer", c.name, got)
		}
		var eb httpx.ErrorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error != "unauthorized" || eb.RequestID == "" {
			t.Errorf("%s: body %q, want a JSON error with a request_id", c.name, body)
		}
		if strings.Contains(body, testToken[:10]) || strings.Contains(body, wrong) {
			t.Errorf("%s: the body echoes a token: %s", c.name, body)
		}
	}
	logs := e.logs.String()
	for _, secret := range []string{testToken[:10], wrong} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a token string %q:\n%s", secret, logs)
		}
	}
	if got := strings.Count(logs, `"action":"unauthorized"`); got != len(cases) {
		t.Errorf("got %d unauthorized audit lines, want %d:\n%s", got, len(cases), logs)
	}
}

func TestRevokeRefusesBadBodies(t *testing.T) {
	e := newAPIEnv(t, nil)
	future := time.Now().Add(time.Hour).Unix()
	exp := func(n int64) string { return strconvI(n) }
	cases := map[string]string{
		"empty jti":           `{"jti": "", "exp": ` + exp(future) + `}`,
		"empty subject":       `{"subject": ""}`,
		"both":                `{"jti": "a", "exp": ` + exp(future) + `, "subject": "bob"}`,
		"neither":             `{}`,
		"only exp":            `{"exp": ` + exp(future) + `}`,
		"jti without exp":     `{"jti": "a"}`,
		"exp in the past":     `{"jti": "a", "exp": ` + exp(time.Now().Add(-time.Minute).Unix()) + `}`,
		"exp now":             `{"jti": "a", "exp": ` + exp(time.Now().Unix()) + `}`,
		"exp in milliseconds": `{"jti": "a", "exp": ` + exp(time.Now().Add(time.Hour).UnixMilli()) + `}`,
		"exp as string":       `{"jti": "a", "exp": "` + exp(future) + `"}`,
		"exp fractional":      `{"jti": "a", "exp": 1.5e9}`,
		"exp with subject":    `{"subject": "bob", "exp": ` + exp(future) + `}`,
		"jti as number":       `{"jti": 7, "exp": ` + exp(future) + `}`,
		"unknown field":       `{"subject": "bob", "reason": "x"}`,
		"not JSON":            `subject=bob`,
		"truncated JSON":      `{"subject": "bob"`,
		"array":               `[{"subject": "bob"}]`,
		"trailing data":       `{"subject": "bob"} {"subject": "carol"}`,
		"trailing garbage":    `{"subject": "bob"}x`,
		"empty body":          ``,
		"2 MB body":           `{"subject": "` + strings.Repeat("b", 2<<20) + `"}`,
		"2 MB whitespace":     `{"subject": "bob"}` + strings.Repeat(" ", 2<<20),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			status, b := e.admin(t, http.MethodPost, "/admin/revoke", body)
			if status != http.StatusBadRequest {
				t.Fatalf("got %d, want 400 (%.200s)", status, b)
			}
			var eb httpx.ErrorBody
			if err := json.Unmarshal([]byte(b), &eb); err != nil || eb.Error != "invalid_request" || eb.ErrorDescription == "" {
				t.Errorf("body %q, want invalid_request with a description", b)
			}
			if len(body) > 1000 && strings.Contains(b, body[:1000]) {
				t.Error("the error echoes the body")
			}
		})
	}
	for _, who := range []string{"bob", "carol"} {
		if at, _ := e.store.SubjectRevokedAt(context.Background(), who); !at.IsZero() {
			t.Errorf("a refused call revoked %s", who)
		}
	}
	if got := testutil.ToFloat64(e.m.Revocations.WithLabelValues("subject")); got != 0 {
		t.Errorf("revocations_total{kind=subject} %v after refused calls, want 0", got)
	}
}

func strconvI(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRevokeJTIIsData(t *testing.T) {
	e := newAPIEnv(t, nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	long := strings.Repeat("j", 10<<10)
	for _, jti := range []string{"a*", "line\nbreak", "sp ace", long, "ünï"} {
		body, _ := json.Marshal(map[string]any{"jti": jti, "exp": exp})
		status, b := e.admin(t, http.MethodPost, "/admin/revoke", string(body))
		if status != 200 || strings.TrimSpace(b) != `{"revoked":"jti"}` {
			t.Fatalf("revoke %.20q: got %d %s, want 200 {\"revoked\":\"jti\"}", jti, status, b)
		}
		if ok, _ := e.store.JTIRevoked(ctx, jti); !ok {
			t.Errorf("jti %.20q is not revoked", jti)
		}
	}
	for _, other := range []string{"abc", "a", "line", "break", "j"} {
		if ok, _ := e.store.JTIRevoked(ctx, other); ok {
			t.Errorf("jti %q is revoked by a pattern-like revocation", other)
		}
	}
	if got := testutil.ToFloat64(e.m.Revocations.WithLabelValues("jti")); got != 5 {
		t.Errorf("revocations_total{kind=jti} %v, want 5", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"action":"revoke_jti"`) || !strings.Contains(logs, `"jti":"a*"`) {
		t.Errorf("no audit line for the jti revocation:\n%.2000s", logs)
	}
	if strings.Contains(logs, long) {
		t.Error("the audit log holds the whole 10 KB jti; want it clipped")
	}
}

func TestRevokeSubjectAsOfNow(t *testing.T) {
	e := newAPIEnv(t, nil)
	before := time.Now().Unix()
	status, b := e.admin(t, http.MethodPost, "/admin/revoke", `{"subject": "bob*"}`)
	if status != 200 || strings.TrimSpace(b) != `{"revoked":"subject"}` {
		t.Fatalf("got %d %s, want 200 {\"revoked\":\"subject\"}", status, b)
	}
	at, _ := e.store.SubjectRevokedAt(context.Background(), "bob*")
	if at.Unix() < before || at.Unix() > time.Now().Unix() {
		t.Errorf("revoked at %d, want the current second (%d)", at.Unix(), before)
	}
	if at, _ := e.store.SubjectRevokedAt(context.Background(), "bobby"); !at.IsZero() {
		t.Error(`revoking "bob*" revoked "bobby"`)
	}
	if got := testutil.ToFloat64(e.m.Revocations.WithLabelValues("subject")); got != 1 {
		t.Errorf("revocations_total{kind=subject} %v, want 1", got)
	}
	if !strings.Contains(e.logs.String(), `"subject":"bob*"`) {
		t.Errorf("no audit line naming the subject:\n%s", e.logs)
	}
}

// addSession stores a session for user and returns its store key.
func addSession(t *testing.T, s auth.Store, user, secret string, created time.Time) string {
	t.Helper()
	sum := sha256.Sum256([]byte(secret))
	key := hex.EncodeToString(sum[:])
	rec := auth.SessionRecord{Key: key, User: user, Created: created, LastSeen: created, IP: "192.0.2.7", UserAgent: "test/1"}
	if err := s.CreateSession(context.Background(), rec, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSessionsListAndDelete(t *testing.T) {
	e := newAPIEnv(t, nil)
	now := time.Now().Truncate(time.Second)
	k1 := addSession(t, e.store, "alice", "one", now.Add(-time.Minute))
	k2 := addSession(t, e.store, "alice", "two", now)
	addSession(t, e.store, "bob", "three", now)

	status, b := e.admin(t, http.MethodGet, "/admin/sessions?user=alice", "")
	var list struct{ Sessions []Session }
	if err := json.Unmarshal([]byte(b), &list); status != 200 || err != nil {
		t.Fatalf("list: got %d %s", status, b)
	}
	want := []Session{
		{ID: session.HandleFor(k1), User: "alice", Created: now.Add(-time.Minute).Unix(), LastSeen: now.Add(-time.Minute).Unix(), IP: "192.0.2.7", UserAgent: "test/1"},
		{ID: session.HandleFor(k2), User: "alice", Created: now.Unix(), LastSeen: now.Unix(), IP: "192.0.2.7", UserAgent: "test/1"},
	}
	if len(list.Sessions) != 2 || list.Sessions[0] != want[0] || list.Sessions[1] != want[1] {
		t.Errorf("list: got %+v, want %+v", list.Sessions, want)
	}
	for _, field := range []string{`"id"`, `"user"`, `"created"`, `"last_seen"`, `"ip"`, `"user_agent"`} {
		if !strings.Contains(b, field) {
			t.Errorf("list lacks %s: %s", field, b)
		}
	}
	if strings.Contains(b, k1) || strings.Contains(b, "one") {
		t.Errorf("list shows a store key or secret: %s", b)
	}

	if status, b := e.admin(t, http.MethodDelete, "/admin/sessions/"+session.HandleFor(k1), ""); status != 200 || strings.TrimSpace(b) != `{"deleted":1}` {
		t.Errorf("delete one: got %d %s, want 200 {\"deleted\":1}", status, b)
	}
	if status, _ := e.admin(t, http.MethodDelete, "/admin/sessions/"+session.HandleFor(k1), ""); status != 404 {
		t.Errorf("delete the same again: got %d, want 404", status)
	}
	if status, b := e.admin(t, http.MethodDelete, "/admin/sessions?user=alice", ""); status != 200 || strings.TrimSpace(b) != `{"deleted":1}` {
		t.Errorf("forced logout: got %d %s, want 200 {\"deleted\":1}", status, b)
	}
	if _, err := e.store.TouchSession(context.Background(), k2, time.Hour); err == nil {
		t.Error("alice's session survived the forced logout")
	}
	if got := testutil.ToFloat64(e.m.Revocations.WithLabelValues("session")); got != 2 {
		t.Errorf("revocations_total{kind=session} %v, want 2", got)
	}
	if status, b := e.admin(t, http.MethodGet, "/admin/sessions?user=alice", ""); status != 200 || strings.TrimSpace(b) != `{"sessions":[]}` {
		t.Errorf("list after logout: got %d %s, want {\"sessions\":[]}", status, b)
	}
}

func TestForcedLogoutWithoutSessions(t *testing.T) {
	e := newAPIEnv(t, nil)
	status, b := e.admin(t, http.MethodDelete, "/admin/sessions?user=nobody", "")
	if status != 200 || strings.TrimSpace(b) != `{"deleted":0}` {
		t.Errorf("got %d %s, want 200 {\"deleted\":0}", status, b)
	}
	if got := testutil.ToFloat64(e.m.Revocations.WithLabelValues("session")); got != 0 {
		t.Errorf("revocations_total{kind=session} %v, want 0", got)
	}
	if !strings.Contains(e.logs.String(), `"action":"delete_user_sessions"`) || !strings.Contains(e.logs.String(), `"count":0`) {
		t.Errorf("no audit line with count 0:\n%s", e.logs)
	}
}

func TestSessionsBadRequests(t *testing.T) {
	e := newAPIEnv(t, nil)
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/admin/sessions", 400},
		{http.MethodGet, "/admin/sessions?user=", 400},
		{http.MethodGet, "/admin/sessions?user=a&user=b", 400},
		{http.MethodDelete, "/admin/sessions", 400},
		{http.MethodDelete, "/admin/sessions/not-a-handle", 404},
		{http.MethodDelete, "/admin/sessions/" + strings.Repeat("A", 43), 404},
		{http.MethodDelete, "/admin/sessions/a/b", 404},
		{http.MethodGet, "/admin/sessions/x", 405},
		{http.MethodPut, "/admin/sessions?user=alice", 405},
		{http.MethodGet, "/admin/revoke", 405},
		{http.MethodGet, "/admin/other", 404},
	}
	for _, c := range cases {
		status, h, b := e.do(t, c.method, c.path, "Bearer "+testToken, "")
		if status != c.want {
			t.Errorf("%s %s: got %d, want %d (%s)", c.method, c.path, status, c.want, b)
		}
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", c.method, c.path, ct)
		}
	}
}

// TestRoutes pins the routing (httpx.Mux): the Allow header ServeMux
// derives from the patterns, HEAD wherever GET is, the JSON refusals with
// their audit lines, and the token checked before the path.
func TestRoutes(t *testing.T) {
	e := newAPIEnv(t, nil)
	cases := []struct {
		method, path, authz string
		want                int
		allow, desc         string
	}{
		{http.MethodPut, "/admin/sessions?user=alice", "Bearer " + testToken, 405, "DELETE, GET, HEAD", "use DELETE, GET or HEAD"},
		{http.MethodGet, "/admin/sessions/x", "Bearer " + testToken, 405, "DELETE", "use DELETE"},
		{http.MethodDelete, "/admin/revoke", "Bearer " + testToken, 405, "POST", "use POST"},
		{http.MethodGet, "/admin/other", "Bearer " + testToken, 404, "", "no such admin endpoint; see POST /admin/revoke and /admin/sessions"},
		{http.MethodHead, "/admin/sessions?user=alice", "Bearer " + testToken, 200, "", ""},
		{http.MethodGet, "/admin/other", "", 401, "", "missing Authorization: Bearer <admin token>"},
	}
	for _, c := range cases {
		before := len(strings.Split(strings.TrimSpace(e.logs.String()), "\n"))
		if e.logs.String() == "" {
			before = 0
		}
		status, h, b := e.do(t, c.method, c.path, c.authz, "")
		var body httpx.ErrorBody
		if c.desc != "" {
			if err := json.Unmarshal([]byte(b), &body); err != nil {
				t.Errorf("%s %s: body %q: %v", c.method, c.path, b, err)
			}
		}
		if status != c.want || h.Get("Allow") != c.allow || body.ErrorDescription != c.desc {
			t.Errorf("%s %s: got %d Allow %q %q, want %d Allow %q %q", c.method, c.path, status, h.Get("Allow"), body.ErrorDescription, c.want, c.allow, c.desc)
		}
		lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
		if len(lines) != before+1 || !strings.Contains(lines[len(lines)-1], fmt.Sprintf(`"status":%d`, c.want)) {
			t.Errorf("%s %s: want one new audit line with status %d:\n%s", c.method, c.path, c.want, e.logs)
		}
	}
}

func TestRequestIDInAuditLine(t *testing.T) {
	e := newAPIEnv(t, nil)
	cases := map[string]bool{"abc-123.X_y": true, "bad id\"": false, strings.Repeat("r", 129): false}
	for id, kept := range cases {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/sessions?user=alice", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set(httpx.RequestIDHeader, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get(httpx.RequestIDHeader)
		if (got == id) != kept || got == "" {
			t.Errorf("X-Request-Id %.20q: got %.20q back, kept want %v", id, got, kept)
		}
		if !strings.Contains(e.logs.String(), `"request_id":"`+got+`"`) {
			t.Errorf("no audit line with request_id %q", got)
		}
	}
}

func TestNewAPIRefusesOpenAPI(t *testing.T) {
	ms := memstore.New(nil)
	t.Cleanup(func() { ms.Close() })
	for name, o := range map[string]APIOptions{
		"no token": {Store: ms},
		"no store": {Token: []byte(testToken)},
	} {
		if h, err := NewAPI(o); err == nil || h != nil {
			t.Errorf("%s: NewAPI = %v, %v; want nil and an error", name, h, err)
		}
	}
}
