package login

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// clock is a settable time source shared by the store, sessions and limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

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

const (
	alicePassword = "correct horse battery"
	testHost      = "gate.example"
)

type env struct {
	h        http.Handler
	sessions *session.Manager
	store    auth.Store
	clock    *clock
	limiter  *passwords.Limiter
	metrics  *metrics.Metrics
	logs     *syncBuffer
	usersDir string
}

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func writeUsers(t *testing.T, dir, alicePW string) string {
	t.Helper()
	p := filepath.Join(dir, "users.yaml")
	content := "- username: alice\n  password_hash: \"" + bcryptHash(t, alicePW) +
		"\"\n  email: alice@example.com\n  groups: [staff, ops]\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newEnv builds the handler over memstore (or store, when given) with a
// 5/min per-user and 30/min per-IP limiter.
func newEnv(t *testing.T, store auth.Store) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Unix(1_800_000_000, 0)}, logs: &syncBuffer{}, usersDir: t.TempDir()}
	if store == nil {
		ms := memstore.New(e.clock.Now)
		t.Cleanup(func() { ms.Close() })
		store = ms
	}
	e.store = store
	dir, err := users.Load(writeUsers(t, e.usersDir, alicePassword), "")
	if err != nil {
		t.Fatal(err)
	}
	e.sessions = mustSessions(t, session.Options{Store: store, Revocations: store, Now: e.clock.Now})
	e.limiter, err = passwords.NewLimiter(passwords.LimiterOptions{Rate: passwords.Rate{N: 5, Per: time.Minute}, ClientRate: passwords.Rate{N: 30, Per: time.Minute}, Counts: memstore.NewAttempts(e.clock.Now)})
	if err != nil {
		t.Fatal(err)
	}
	e.metrics = metrics.New(prometheus.NewRegistry(), "test")
	e.h = mustNew(t, Options{Sessions: e.sessions, Users: dir, Limiter: e.limiter, Title: "Acme sign-in",
		Metrics: e.metrics, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: e.clock.Now})
	return e
}

// request is one call to the handler.
type request struct {
	method, path string
	form         url.Values
	cookies      []*http.Cookie
	header       map[string]string
}

type response struct {
	*http.Response
	body string
}

func (e *env) do(t *testing.T, q request) response {
	t.Helper()
	var body io.Reader
	if q.form != nil {
		body = strings.NewReader(q.form.Encode())
	}
	r := httptest.NewRequest(q.method, "http://"+testHost+q.path, body)
	r.RemoteAddr = "192.0.2.7:40000"
	if q.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range q.cookies {
		r.AddCookie(c)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return response{Response: w.Result(), body: w.Body.String()}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// csrf fetches the login page and returns its CSRF cookie and form token.
func (e *env) csrf(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	res := e.do(t, request{method: "GET", path: LoginPath})
	c := cookieNamed(res.Response, CSRFCookieName)
	m := csrfInput.FindStringSubmatch(res.body)
	if c == nil || m == nil {
		t.Fatalf("login page has no CSRF cookie or field: %v\n%s", res.Header, res.body)
	}
	return c, m[1]
}

// login posts the login form with a valid CSRF token.
func (e *env) login(t *testing.T, user, pw, rd string, extra ...*http.Cookie) response {
	t.Helper()
	c, tok := e.csrf(t)
	form := url.Values{"username": {user}, "password": {pw}, "rd": {rd}, "csrf_token": {tok}}
	return e.do(t, request{method: "POST", path: LoginPath, form: form, cookies: append([]*http.Cookie{c}, extra...)})
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// whoami authenticates a request carrying the session cookie.
func (e *env) whoami(c *http.Cookie) (*auth.Identity, error) {
	r := httptest.NewRequest("GET", "http://"+testHost+"/", nil)
	r.AddCookie(c)
	return e.sessions.Authenticate(r)
}

// mustNew is New for tests: a refused Options ends the test.
func mustNew(t testing.TB, o Options) http.Handler {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mustSessions is session.New for tests.
func mustSessions(t testing.TB, o session.Options) *session.Manager {
	t.Helper()
	m, err := session.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
