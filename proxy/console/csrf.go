package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
)

// The console's CSRF token is a double-submit cookie, as the login form's:
// a random value in a cookie scoped to the console, repeated in every
// form. Together with the cross-origin refusal of the decision and the
// session cookie's SameSite, a page of another site cannot post an action.
const (
	csrfField = "csrf_token"
	csrfBytes = 32
)

var csrfLen = base64.RawURLEncoding.EncodedLen(csrfBytes)

func (h *Handler) csrfCookieName() string {
	if h.o.Secure {
		return "__Secure-gatehouse_console_csrf"
	}
	return "gatehouse_console_csrf"
}

// csrfToken returns the request's token, setting a new cookie when it has
// none.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.csrfCookieName()); err == nil && validToken(c.Value) {
		return c.Value
	}
	b := make([]byte, csrfBytes)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: h.csrfCookieName(), Value: v, Path: Prefix, HttpOnly: true, Secure: h.o.Secure,
		SameSite: http.SameSiteStrictMode,
	})
	return v
}

// checkCSRF parses the (bounded) form and compares its token with the
// cookie's; false means the 403 page is written.
func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.o.Pages.SetHeaders(w.Header())
		h.o.Pages.WriteError(w, r, http.StatusBadRequest, "invalid_request", "The form is malformed or too large.")
		return false
	}
	c, err := r.Cookie(h.csrfCookieName())
	form := r.PostFormValue(csrfField)
	if err != nil || !validToken(c.Value) || !validToken(form) || subtle.ConstantTimeCompare([]byte(form), []byte(c.Value)) != 1 {
		h.o.Pages.SetHeaders(w.Header())
		h.o.Pages.WriteError(w, r, http.StatusForbidden, "forbidden", "The form has expired or did not come from the console; go back, reload the page and try again.")
		return false
	}
	return true
}

// maxForm bounds a console form: a pasted token of up to 64 KiB.
const maxForm = 80 << 10

func validToken(s string) bool {
	if len(s) != csrfLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
