package login

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// msgSignedOut is shown on the login page after a logout (?signed_out=1).
const msgSignedOut = "You have been signed out."

// signedOutQuery marks the login page a logout redirects to.
const signedOutQuery = "signed_out"

// loginPage renders the sign-in page. A POST's username is kept in the
// field. A GET by someone already signed in shows who, with Continue (to
// rd) and Sign out, instead of the form.
func (h *handler) loginPage(w http.ResponseWriter, r *http.Request, status int, msg, rd string) {
	p := pages.Page{Error: msg, CSRF: h.csrfToken(w, r), Redirect: rd}
	if r.Method == http.MethodPost {
		p.Username = clip(r.PostFormValue("username"), 256)
	} else {
		if r.URL.Query().Get(signedOutQuery) != "" {
			p.Notice = msgSignedOut
		}
		if id, err := h.o.Sessions.Authenticate(r); err == nil && id != nil {
			p.User, p.Notice = pageUser(id), ""
		}
	}
	if to := h.external(r, &p); to != "" {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	h.render(w, r, status, pages.Login, p)
}

// logoutPage renders the sign-out page: a confirmation while a session may
// exist (also when the store cannot say), else "You are not signed in".
func (h *handler) logoutPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := pages.Page{Error: msg, CSRF: h.csrfToken(w, r), Redirect: SafeRedirect(r.URL.Query().Get("rd"))}
	id, err := h.o.Sessions.Authenticate(r)
	switch {
	case err == nil && id != nil:
		p.SignedIn, p.User = true, pageUser(id)
	case errors.Is(err, auth.ErrUnavailable):
		p.SignedIn = true
	}
	h.render(w, r, status, pages.Logout, p)
}

// unavailablePage answers 503 when a session cannot be stored or deleted.
func (h *handler) unavailablePage(w http.ResponseWriter, r *http.Request) {
	h.o.Pages.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "")
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p pages.Page) {
	if err := h.o.Pages.Render(w, status, name, p); err != nil {
		h.o.Logger.Error("render page", "page", name, "request_id", httpx.RequestID(r), "error", err)
	}
}

func pageUser(id *auth.Identity) *pages.User {
	return &pages.User{Name: id.User, Email: id.Email, Groups: id.Groups, SignedInAt: id.IssuedAt, ExpiresAt: id.ExpiresAt}
}

// rateLimitedMessage says how long to wait: "Too many attempts. Try again
// in 40 seconds." (minutes beyond 90 seconds).
func rateLimitedMessage(wait time.Duration) string {
	s := int(math.Ceil(wait.Seconds()))
	switch {
	case s <= 1:
		return "Too many attempts. Try again in 1 second."
	case s <= 90:
		return fmt.Sprintf("Too many attempts. Try again in %d seconds.", s)
	default:
		return fmt.Sprintf("Too many attempts. Try again in %d minutes.", int(math.Ceil(float64(s)/60)))
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}
