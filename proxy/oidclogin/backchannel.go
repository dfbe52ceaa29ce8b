package oidclogin

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// backchannel: POST /.gatehouse/oidc/backchannel-logout (OpenID
// Back-Channel Logout 1.0). 200 when the token is valid (also when its
// sessions are already gone), 400 otherwise; Cache-Control: no-store.
func (h *Handler) backchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.o.Metrics.CountBackchannel(metrics.ProviderUnknown, metrics.BackchannelInvalid)
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	raw := r.PostForm.Get("logout_token")
	log := h.o.Logger.With("event", "backchannel_logout", "client_ip", httpx.ClientIP(r).String(), "request_id", httpx.RequestID(r))
	if raw == "" {
		h.o.Metrics.CountBackchannel(metrics.ProviderUnknown, metrics.BackchannelInvalid)
		log.Info("back-channel logout refused", "result", "invalid", "error", "no logout_token")
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "logout_token is required")
		return
	}
	cands := h.providersFor(oidc.UnverifiedIssuer(raw))
	if len(cands) == 0 {
		h.o.Metrics.CountBackchannel(metrics.ProviderUnknown, metrics.BackchannelInvalid)
		log.Info("back-channel logout refused", "result", "invalid", "error", "issuer of no configured provider")
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", "the logout token failed verification")
		return
	}
	var lc oidc.LogoutClaims
	var err error
	for _, p := range cands { // providers sharing an issuer differ by client_id (aud)
		if lc, err = p.VerifyLogout(r.Context(), raw); err == nil {
			break
		}
	}
	provider := cands[0].Name()
	if err == nil {
		provider = lc.Provider
	}
	if err != nil {
		e := oidc.AsError(err)
		if e.Kind == oidc.KindUnavailable || e.Kind == oidc.KindNotReady {
			log.Error("back-channel logout failed", "provider", provider, "result", "error", "error", e.Error())
			httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		h.o.Metrics.CountBackchannel(provider, metrics.BackchannelInvalid)
		log.Info("back-channel logout refused", "provider", provider, "result", "invalid", "error", e.Error())
		httpx.WriteError(w, r, http.StatusBadRequest, "invalid_request", e.Description)
		return
	}
	n, err := h.o.Sessions.EndExternal(r.Context(), lc.Provider, lc.Subject, lc.SID)
	if err != nil {
		log.Error("back-channel logout failed: sessions not ended", "provider", provider, "result", "error", "error", err)
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	h.o.Metrics.CountBackchannel(provider, metrics.BackchannelOK)
	log.Info("back-channel logout", "provider", provider, "result", "ok", "sub", httpx.Clip(lc.Subject), "sessions", n)
	h.audit(r, auth.AuditBackchannelLogout, "", fmt.Sprintf("provider %s, IdP subject %q: %d sessions ended", provider, httpx.Clip(lc.Subject), n))
	w.WriteHeader(http.StatusOK)
}
