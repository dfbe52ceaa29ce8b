package httpx

import (
	"context"
	"net/http"
	"strings"
)

// ErrorPageFunc answers a browser navigation with status as an HTML page
// (pages.Set.WriteError). code and description are those of the JSON body.
type ErrorPageFunc func(w http.ResponseWriter, r *http.Request, status int, code, description string)

type errorPageKey struct{}

// WithErrorPages returns next with page in every request's context, so that
// WriteError answers browser navigations (IsNavigation) with page instead
// of JSON. A nil page returns next unchanged.
func WithErrorPages(next http.Handler, page ErrorPageFunc) http.Handler {
	if page == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), errorPageKey{}, page)))
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
	page, ok := r.Context().Value(errorPageKey{}).(ErrorPageFunc)
	if !ok || !IsNavigation(r) {
		return false
	}
	page(w, r, status, code, description)
	return true
}
