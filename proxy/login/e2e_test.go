package login

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// TestBrowserFlow drives a real server on 127.0.0.1 with a cookie jar, as
// a browser without JavaScript would: login page, form post, redirect to
// the app, logout.
func TestBrowserFlow(t *testing.T) {
	store := memstore.New(nil)
	t.Cleanup(func() { store.Close() })
	dir, err := users.Load(writeUsers(t, t.TempDir(), alicePassword), "")
	if err != nil {
		t.Fatal(err)
	}
	sessions := mustSessions(t, session.Options{Store: store, Revocations: store})
	mux := http.NewServeMux()
	mux.Handle(httpx.ReservedPrefix, mustNew(t, Options{Sessions: sessions, Users: dir}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		id, err := sessions.Authenticate(r)
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "hello "+id.User+" at "+r.URL.RequestURI())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	ctx := context.Background()

	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	_, page := get(LoginPath + "?rd=" + url.QueryEscape("/dash?tab=1"))
	tok := csrfInput.FindStringSubmatch(page)
	if tok == nil {
		t.Fatalf("no csrf_token in the login page: %s", page)
	}
	form := url.Values{"username": {"alice"}, "password": {alicePassword}, "rd": {"/dash?tab=1"}, "csrf_token": {tok[1]}}
	if status, body := post(LoginPath, form); status != 200 || body != "hello alice at /dash?tab=1" {
		t.Fatalf("after login = %d %q, want the app at rd", status, body)
	}
	_, page = get(LogoutPath)
	tok = csrfInput.FindStringSubmatch(page)
	if tok == nil {
		t.Fatalf("no csrf_token in the logout page: %s", page)
	}
	if status, body := post(LogoutPath, url.Values{"csrf_token": {tok[1]}}); status != 200 || !strings.Contains(body, `name="password"`) {
		t.Fatalf("after logout = %d, want the login page", status)
	}
	if status, _ := get("/dash"); status != http.StatusUnauthorized {
		t.Errorf("app after logout = %d, want 401", status)
	}
}

func TestSecureCSRFCookie(t *testing.T) {
	store := memstore.New(nil)
	t.Cleanup(func() { store.Close() })
	h := mustNew(t, Options{Sessions: mustSessions(t, session.Options{Store: store}), Users: &users.Directory{}, Secure: true})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://gate.example"+LoginPath, nil))
	c := cookieNamed(w.Result(), "__Host-gatehouse_csrf")
	if c == nil || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Errorf("Secure CSRF cookie = %+v, want __Host-gatehouse_csrf, Secure, Path=/, no Domain", c)
	}
}
