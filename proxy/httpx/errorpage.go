package httpx

import (
	"context"
	"net/http"
	"strings"
)

// ErrorPageFunc answers a browser navigation with status as an HTML page
// (pages.Set.WriteError). code and description are those of the JSON body.
type ErrorPageFunc func(w http.ResponseWriter, r *http.Request, status int, code, description string)

// WithErrorPages returns next with page in every request's context (its
// Info), so that WriteError answers browser navigations (IsNavigation) with
// page instead of JSON. A nil page returns next unchanged. The proxy takes
// its page as an option instead (proxy.Options.ErrorPages), which saves a
// copy of every request.
func WithErrorPages(next http.Handler, page ErrorPageFunc) http.Handler {
	if page == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := &Info{Pages: page}
		if prev := InfoOf(r.Context()); prev != nil {
			in.RequestID, in.ClientIP, in.decided = prev.RequestID, prev.ClientIP, prev.decided
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, in)))
	})
}

// IsNavigation reports whether r is a browser navigation: GET or HEAD with
// an Accept header that contains text/html.
func IsNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "text/html") {
			return true
		}
	}
	return false
}

// writeErrorPage answers r with the context's error page when r is a
// navigation and there is one; false means nothing was written.
func writeErrorPage(w http.ResponseWriter, r *http.Request, status int, code, description string) bool {
	in := InfoOf(r.Context())
	if in == nil || in.Pages == nil || !IsNavigation(r) {
		return false
	}
	in.Pages(w, r, status, code, description)
	return true
}
