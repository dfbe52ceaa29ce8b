package login

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// newPagesEnv is newEnv with pages whose clock is the test's clock.
func newPagesEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	ps, err := pages.New(pages.Options{Title: "Acme sign-in", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := users.Load(writeUsers(t, e.usersDir, alicePassword), "")
	if err != nil {
		t.Fatal(err)
	}
	e.h = mustNew(t, Options{Sessions: e.sessions, Users: dir, Limiter: e.limiter, Pages: ps,
		Metrics: e.metrics, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	return e
}

func wantText(t *testing.T, what string, res response, status int, want ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("%s: status %d, want %d", what, res.StatusCode, status)
	}
	for _, w := range want {
		if !strings.Contains(res.body, w) {
			t.Errorf("%s: page lacks %q:\n%s", what, w, res.body)
		}
	}
}

func TestLoginPageWhenSignedIn(t *testing.T) {
	e := newPagesEnv(t)
	sc := cookieNamed(e.login(t, "alice", alicePassword, "/").Response, session.DefaultCookieName)
	res := e.do(t, request{method: "GET", path: LoginPath + "?rd=" + url.QueryEscape("/reports?y=1"), cookies: []*http.Cookie{sc}})
	// The clock is 2027-01-15 08:00 UTC; the idle timeout is 30 minutes.
	wantText(t, "login page while signed in", res, 200,
		"<h1>Signed in as alice</h1>", "alice@example.com", "Session ends at 08:30 UTC if idle.",
		`<a class="button" href="/reports?y=1">Continue</a>`, `action="/.gatehouse/logout"`, `name="csrf_token"`, ">Sign out</button>")
	if strings.Contains(res.body, `name="password"`) {
		t.Error("the signed-in view shows the password form")
	}
}

func TestSignedOutNotice(t *testing.T) {
	e := newPagesEnv(t)
	res := e.do(t, request{method: "GET", path: LoginPath + "?signed_out=1"})
	wantText(t, "login page after logout", res, 200, `role="status">You have been signed out.</p>`, `name="password"`)
	if res := e.do(t, request{method: "GET", path: LoginPath}); strings.Contains(res.body, "signed out") {
		t.Error("the plain login page says signed out")
	}
}

func TestLogoutPageStates(t *testing.T) {
	e := newPagesEnv(t)
	sc := cookieNamed(e.login(t, "alice", alicePassword, "/").Response, session.DefaultCookieName)
	res := e.do(t, request{method: "GET", path: LogoutPath + "?rd=%2Fapp", cookies: []*http.Cookie{sc}})
	wantText(t, "sign-out page", res, 200, "<title>Sign out</title>", "<h1>Sign out</h1>",
		"You are signed in as <strong>alice</strong>. Do you want to sign out?", ">Sign out</button>",
		`<a class="button secondary" href="/app">Cancel</a>`)
	evil := e.do(t, request{method: "GET", path: LogoutPath + "?rd=//evil.example", cookies: []*http.Cookie{sc}})
	wantText(t, "sign-out page with a foreign rd", evil, 200, `<a class="button secondary" href="/">Cancel</a>`)

	none := e.do(t, request{method: "GET", path: LogoutPath + "?rd=%2Fapp"})
	wantText(t, "sign-out page without a session", none, 200, "<h1>Sign out</h1>", "You are not signed in.",
		`href="/.gatehouse/login?rd=%2fapp">Sign in</a>`)
	if strings.Contains(none.body, "<button") {
		t.Error("the sign-out page without a session asks to sign out")
	}
}

func TestFailedLoginKeepsUsername(t *testing.T) {
	e := newPagesEnv(t)
	res := e.login(t, "alice", "wrong", "/x")
	wantText(t, "failed login", res, 401, "Invalid username or password.", `name="username" value="alice"`)
	if strings.Contains(res.body, "wrong") {
		t.Error("the page echoes the password")
	}
}

func TestRateLimitSaysHowLong(t *testing.T) {
	e := newPagesEnv(t)
	for range 5 {
		e.login(t, "alice", "wrong", "/")
	}
	// 5/min: one more attempt every 12 s.
	res := e.login(t, "alice", "wrong", "/")
	wantText(t, "rate-limited login", res, 429, "Too many attempts. Try again in 12 seconds.", `name="username" value="alice"`)
	if got := res.Header.Get("Retry-After"); got != "12" {
		t.Errorf("Retry-After = %q, want 12", got)
	}
	e.clock.Add(11500 * time.Millisecond)
	wantText(t, "11.5 s later", e.login(t, "alice", "wrong", "/"), 429, "Too many attempts. Try again in 1 second.")
}

func TestRateLimitedMessage(t *testing.T) {
	for wait, want := range map[time.Duration]string{
		300 * time.Millisecond:   "Too many attempts. Try again in 1 second.",
		39100 * time.Millisecond: "Too many attempts. Try again in 40 seconds.",
		90 * time.Second:         "Too many attempts. Try again in 90 seconds.",
		91 * time.Second:         "Too many attempts. Try again in 2 minutes.",
		20 * time.Minute:         "Too many attempts. Try again in 20 minutes.",
	} {
		if got := rateLimitedMessage(wait); got != want {
			t.Errorf("rateLimitedMessage(%s) = %q, want %q", wait, got, want)
		}
	}
}
