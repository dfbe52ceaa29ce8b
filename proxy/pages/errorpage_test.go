package pages

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// TestErrorPageForNavigations: with httpx.WithErrorPages, a browser
// navigation that ends in an error gets the HTML page with the request ID;
// every other request keeps the JSON body.
func TestErrorPageForNavigations(t *testing.T) {
	s := newSet(t, Options{})
	for _, tt := range []struct {
		status  int
		heading string
	}{
		{400, "Bad request"}, {401, "Sign-in required"}, {403, "Access denied"}, {404, "Page not found"},
		{502, "Application unavailable"}, {503, "Temporarily unavailable"}, {504, "The application did not answer"},
		{418, "I&#39;m a teapot"},
	} {
		h := httpx.WithErrorPages(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteError(w, r, tt.status, "some_code", "what went wrong")
		}), s.WriteError)
		r := httptest.NewRequest("GET", "/app/x", nil)
		r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		r.Header.Set(httpx.RequestIDHeader, "req-abc")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body := w.Body.String()
		detail := strings.Contains(body, "What went wrong.")
		if w.Code != tt.status || !strings.Contains(body, "<h1>"+tt.heading+"</h1>") ||
			!strings.Contains(body, "<code>req-abc</code>") || detail != (tt.status < 500) {
			t.Errorf("navigation ending in %d = %d:\n%s", tt.status, w.Code, body)
		}
		checkCSP(t, w)
	}
}

func TestErrorPageKeepsJSONForAPIs(t *testing.T) {
	s := newSet(t, Options{})
	fail := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, http.StatusForbidden, "forbidden", "nope")
	})
	for _, tt := range []struct {
		name, method, accept string
		wrapped, html        bool
	}{
		{"navigation", "GET", "text/html", true, true},
		{"HEAD navigation", "HEAD", "TEXT/HTML;q=0.9", true, true},
		{"fetch", "GET", "application/json", true, false},
		{"no Accept", "GET", "", true, false},
		{"any", "GET", "*/*", true, false},
		{"form post", "POST", "text/html", true, false},
		{"not wrapped (admin listener)", "GET", "text/html", false, false},
	} {
		var h http.Handler = fail
		if tt.wrapped {
			h = httpx.WithErrorPages(fail, s.WriteError)
		}
		r := httptest.NewRequest(tt.method, "/x", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		ct := w.Header().Get("Content-Type")
		if w.Code != 403 || (ct == "text/html; charset=utf-8") != tt.html {
			t.Errorf("%s: %d %s, want 403 html=%v", tt.name, w.Code, ct, tt.html)
		}
		if !tt.html {
			var b httpx.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error != "forbidden" {
				t.Errorf("%s: body %q is not the JSON error", tt.name, w.Body.String())
			}
		}
	}
}
