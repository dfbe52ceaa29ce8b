package login

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// CSRF protection for the login and logout forms is a double-submit token:
// a random 256-bit value in its own HttpOnly, SameSite=Strict cookie, copied
// into the form's hidden csrf_token field and compared in constant time on
// POST. With Secure set the cookie is named __Host-gatehouse_csrf, so that a
// sibling subdomain cannot plant one. On top of that every POST must pass
// http.CrossOriginProtection (Sec-Fetch-Site / Origin checks).
const (
	csrfField = "csrf_token"
	csrfLen   = 43
)

// The CSRF cookie's names, without and with Secure. They are Gatehouse's
// own cookies: cmd/gatehouse lists them in proxy.Options.ProtectedCookies,
// so the proxy strips them from upstream requests and responses.
const (
	CSRFCookieName       = "gatehouse_csrf"
	CSRFCookieNameSecure = "__Host-gatehouse_csrf"
)

func (h *handler) csrfCookieName() string {
	if h.o.Secure {
		return CSRFCookieNameSecure
	}
	return CSRFCookieName
}

// csrfToken returns the request's CSRF token, or makes a new one and sets
// its cookie on w.
func (h *handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.csrfCookieName()); err == nil && validToken(c.Value) {
		return c.Value
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     h.csrfCookieName(),
		Value:    tok,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.o.Secure,
		SameSite: http.SameSiteStrictMode,
	})
	return tok
}

// checkCSRF reports whether the form's csrf_token matches the CSRF cookie.
func (h *handler) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(h.csrfCookieName())
	if err != nil || !validToken(c.Value) {
		return false
	}
	form := r.PostFormValue(csrfField)
	return validToken(form) && subtle.ConstantTimeCompare([]byte(form), []byte(c.Value)) == 1
}

func validToken(s string) bool {
	if len(s) != csrfLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}
