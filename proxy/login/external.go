package login

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/auth"

	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// External is sign-in at external identity providers
// (proxy/oidclogin.Handler implements it).
type External interface {
	// Buttons are the login page's provider buttons for rd.
	Buttons(rd string) []pages.Provider
	// AutoRedirect is where login.auto_redirect sends the browser (the
	// one provider's start URL), or "".
	AutoRedirect(rd string) string
	// EndSessionURL is where logout sends the browser after deleting the
	// request's session (the IdP's end-session endpoint), or "". It is
	// called before the session is deleted.
	EndSessionURL(r *http.Request) string
}

// external fills in the login page's provider part; it returns the URL to
// send the browser to instead of the page (auto_redirect), or "".
func (h *handler) external(r *http.Request, p *pages.Page) string {
	if h.o.External == nil {
		return ""
	}
	p.Providers, p.HidePassword = h.o.External.Buttons(p.Redirect), h.o.NoPassword
	if h.o.AutoRedirect && h.o.NoPassword && r.Method != http.MethodPost && p.User == nil &&
		r.URL.Query().Get(signedOutQuery) == "" {
		return h.o.External.AutoRedirect(p.Redirect)
	}
	return ""
}

// endSession is the logout's destination: the IdP's end-session endpoint
// for an external session, else "" (the login page).
func (h *handler) endSession(r *http.Request) string {
	if h.o.External == nil {
		return ""
	}
	return h.o.External.EndSessionURL(r)
}

// sessionProvider is the OIDC provider of a session's identity, or "".
func sessionProvider(id *auth.Identity) string {
	if id.Method != auth.MethodSession {
		return ""
	}
	p, _ := id.Claims["provider"].(string)
	return p
}
