package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// clock is a settable time source shared by the Manager and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// countingStore counts the session store calls made through it.
type countingStore struct {
	*memstore.Store
	calls atomic.Int64
}

func (s *countingStore) TouchSession(ctx context.Context, key string, idle time.Duration) (auth.SessionRecord, error) {
	s.calls.Add(1)
	return s.Store.TouchSession(ctx, key, idle)
}

func (s *countingStore) DeleteSession(ctx context.Context, key string) (bool, error) {
	s.calls.Add(1)
	return s.Store.DeleteSession(ctx, key)
}

type fixture struct {
	m     *Manager
	store *countingStore
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := newClock()
	ms := memstore.New(c.Now)
	t.Cleanup(func() { ms.Close() })
	st := &countingStore{Store: ms}
	m := mustNew(t, Options{Store: st, Revocations: ms, Secure: true, Domain: "example.com",
		Idle: 30 * time.Minute, Absolute: 12 * time.Hour, Now: c.Now})
	return &fixture{m: m, store: st, clock: c}
}

var alice = users.User{Username: "alice", Email: "alice@example.com", Groups: []string{"staff", "ops"}}

// login logs u in with the request's cookies and returns the new cookie.
func (f *fixture) login(t *testing.T, u users.User, reqCookies ...string) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/.gatehouse/login", nil)
	for _, c := range reqCookies {
		r.Header.Add("Cookie", c)
	}
	w := httptest.NewRecorder()
	if err := f.m.Login(context.Background(), w, r, u); err != nil {
		t.Fatalf("Login: %v", err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("Login set %d cookies, want 1", len(cs))
	}
	return cs[0]
}

func (f *fixture) auth(cookieHeaders ...string) (*auth.Identity, error) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range cookieHeaders {
		r.Header.Add("Cookie", c)
	}
	return f.m.Authenticate(r)
}

func TestLoginCookieAndIdentity(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, alice)
	if c.Name != DefaultCookieName || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.Domain != "example.com" || c.MaxAge != int((12*time.Hour).Seconds()) {
		t.Errorf("cookie = %+v, want HttpOnly Secure SameSite=Lax Path=/ Domain=example.com Max-Age=43200", c)
	}
	if len(c.Value) != 43 {
		t.Errorf("cookie value length = %d, want 43", len(c.Value))
	}
	start := f.clock.Now()
	f.clock.Add(time.Minute)
	id, err := f.auth(c.Name + "=" + c.Value)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if id.User != "alice" || id.Subject != "alice" || id.Email != "alice@example.com" ||
		strings.Join(id.Groups, ",") != "staff,ops" || id.Method != auth.MethodSession {
		t.Errorf("identity = %+v", id)
	}
	if want := start.Add(31 * time.Minute); !id.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", id.ExpiresAt, want)
	}
	if v, _ := id.Claim("groups"); len(v.([]any)) != 2 {
		t.Errorf("groups claim = %v, want 2 groups", v)
	}
	recs, _, _ := f.store.UserSessions(context.Background(), "alice", "", 0)
	if len(recs) != 1 || recs[0].Key == c.Value || strings.Contains(recs[0].Key, c.Value) {
		t.Errorf("stored sessions = %+v: want one, keyed by a hash of the ID", recs)
	}
}

func TestBadCookiesAreInvalidWithoutStoreCall(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, alice)
	good := c.Value
	flip := "A"
	if good[10] == 'A' {
		flip = "B"
	}
	tests := []struct{ name, value string }{
		{"tampered", good[:10] + flip + good[11:]},
		{"truncated", good[:42]},
		{"extended", good + "A"},
		{"10 KB", strings.Repeat("A", 10<<10)},
		{"non-UTF-8", good[:40] + "\xff\xfe\xfd"},
		{"padded", good + "="},
		{"standard base64", strings.Repeat("+", 43)},
		{"quoted", `"` + good[:41] + `"`},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.store.calls.Load()
			id, err := f.auth(DefaultCookieName + "=" + tt.value)
			if id != nil || !errors.Is(err, auth.ErrInvalid) {
				t.Errorf("Authenticate(%q) = %v, %v; want nil, ErrInvalid", tt.value, id, err)
			}
			if tt.name != "tampered" && f.store.calls.Load() != before {
				t.Errorf("Authenticate(%q) called the store for a malformed cookie", tt.value)
			}
		})
	}
}

func TestNoCookie(t *testing.T) {
	f := newFixture(t)
	for _, h := range []string{"", "other=1; gatehouse_sessionx=abc"} {
		if _, err := f.auth(h); !errors.Is(err, auth.ErrNoCredentials) {
			t.Errorf("Authenticate(Cookie: %q) err = %v, want ErrNoCredentials", h, err)
		}
	}
}

func TestTwoSessionCookiesAreNoSession(t *testing.T) {
	f := newFixture(t)
	a := f.login(t, alice)
	b := f.login(t, users.User{Username: "bob"})
	tests := [][]string{
		{a.Name + "=" + a.Value + "; " + b.Name + "=" + b.Value},
		{a.Name + "=" + a.Value + "; x=1; " + a.Name + "=" + a.Value},
		{a.Name + "=" + a.Value, b.Name + "=" + b.Value},
		{a.Name + "=garbage; " + a.Name + "=" + a.Value},
	}
	for _, hs := range tests {
		if id, err := f.auth(hs...); id != nil || !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("Authenticate(%q) = %v, %v; want nil, ErrInvalid", hs, id, err)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, alice)
	h := c.Name + "=" + c.Value
	for range 4 { // used every 29 minutes: stays alive past the idle timeout
		f.clock.Add(29 * time.Minute)
		if _, err := f.auth(h); err != nil {
			t.Fatalf("session used within idle timeout: %v", err)
		}
	}
	f.clock.Add(30*time.Minute + time.Second)
	if id, err := f.auth(h); id != nil || !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("after idle timeout: %v, %v; want nil, ErrInvalid", id, err)
	}
}

func TestAbsoluteTimeout(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, alice)
	h := c.Name + "=" + c.Value
	start := f.clock.Now()
	for f.clock.Now().Before(start.Add(12*time.Hour - 20*time.Minute)) {
		f.clock.Add(20 * time.Minute)
		id, err := f.auth(h)
		if err != nil {
			t.Fatalf("at %v: %v", f.clock.Now().Sub(start), err)
		}
		if end := start.Add(12 * time.Hour); id.ExpiresAt.After(end) {
			t.Fatalf("ExpiresAt %v after absolute end %v", id.ExpiresAt, end)
		}
	}
	f.clock.Add(20 * time.Minute)
	if id, err := f.auth(h); id != nil || !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("after absolute timeout: %v, %v; want nil, ErrInvalid", id, err)
	}
	if recs, _, _ := f.store.UserSessions(context.Background(), "alice", "", 0); len(recs) != 0 {
		t.Errorf("timed-out session still stored: %d", len(recs))
	}
}

func TestSessionFixation(t *testing.T) {
	f := newFixture(t)
	// The attacker plants a well-formed cookie, even one of their own live sessions.
	planted := f.login(t, users.User{Username: "mallory"})
	victim := f.login(t, alice, planted.Name+"="+planted.Value)
	if victim.Value == planted.Value {
		t.Fatal("login reused the cookie sent before login")
	}
	if id, err := f.auth(planted.Name + "=" + planted.Value); err == nil && id.User == "alice" {
		t.Fatal("the planted cookie authenticates as the victim")
	}
	if id, err := f.auth(victim.Name + "=" + victim.Value); err != nil || id.User != "alice" {
		t.Errorf("victim's new session = %v, %v; want alice", id, err)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, alice)
	r := httptest.NewRequest("POST", "/.gatehouse/logout", nil)
	r.Header.Set("Cookie", c.Name+"="+c.Value)
	w := httptest.NewRecorder()
	if err := f.m.Logout(context.Background(), w, r); err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" || !cs[0].HttpOnly {
		t.Errorf("logout cookies = %+v, want one expired cookie", cs)
	}
	if _, err := f.auth(c.Name + "=" + c.Value); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("old cookie after logout: err = %v, want ErrInvalid", err)
	}
}

func TestSubjectRevocation(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, alice)
	f.clock.Add(300 * time.Millisecond)
	if err := f.store.RevokeSubject(context.Background(), "alice", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth(c.Name + "=" + c.Value); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("session created before revocation: err = %v, want ErrRevoked", err)
	}
	// Still within the revocation's second: a new login is revoked too.
	same := f.login(t, alice)
	if _, err := f.auth(same.Name + "=" + same.Value); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("session created in the revoked second: err = %v, want ErrRevoked", err)
	}
	f.clock.Add(time.Second)
	next := f.login(t, alice)
	if id, err := f.auth(next.Name + "=" + next.Value); err != nil || id.User != "alice" {
		t.Errorf("login in the next second = %v, %v; want alice", id, err)
	}
}

func TestHandle(t *testing.T) {
	id, key := newID()
	h := HandleFor(key)
	if h == "" || h == id || strings.Contains(h, id) {
		t.Fatalf("HandleFor(key) = %q: want a handle unrelated to the cookie value", h)
	}
	if back, ok := KeyForHandle(h); !ok || back != key {
		t.Errorf("KeyForHandle(HandleFor(k)) = %q, %v; want %q", back, ok, key)
	}
	for _, bad := range []string{"", "x", id + "A", strings.Repeat("!", 43)} {
		if _, ok := KeyForHandle(bad); ok {
			t.Errorf("KeyForHandle(%q) ok, want false", bad)
		}
	}
	if HandleFor("nothex") != "" {
		t.Error(`HandleFor("nothex") != ""`)
	}
}

func FuzzAuthenticateCookie(f *testing.F) {
	f.Add("gatehouse_session=" + strings.Repeat("A", 43))
	f.Add("a=1; gatehouse_session=\xff")
	f.Add(";;=;gatehouse_session")
	m := mustNew(f, Options{Store: memstore.New(nil)})
	f.Fuzz(func(t *testing.T, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie)
		id, err := m.Authenticate(r)
		if id != nil || !(errors.Is(err, auth.ErrInvalid) || errors.Is(err, auth.ErrNoCredentials)) {
			t.Fatalf("Authenticate(Cookie: %q) = %v, %v", cookie, id, err)
		}
	})
}

// mustNew is New for tests: a refused Options ends the test.
func mustNew(tb testing.TB, o Options) *Manager {
	tb.Helper()
	m, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestNewRefusesNilStore(t *testing.T) {
	if m, err := New(Options{}); err == nil || m != nil {
		t.Fatalf("New without a Store: %v, %v; want nil and an error", m, err)
	}
}
