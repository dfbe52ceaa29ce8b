package proxy

import (
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// authorize asks the Decider about the request and renders its answer: it
// either records the identity in x and returns true, or writes the refusal
// and returns false.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	rt := x.route
	if rt.Auth == AuthNone {
		return true
	}
	start := time.Now()
	d := h.decider.Decide(r.Context(), Describe(r), rt.Route)
	rt.authDur.Observe(time.Since(start).Seconds())
	if d.RevocationUnknown {
		h.m.StoreErrorsAllowed.Inc()
		h.log.WarnContext(r.Context(), "store unavailable; request allowed by store.on_error", "request_id", x.requestID, "route", rt.Name, "error", d.Err)
	}
	x.id = d.Identity
	if d.Allowed() {
		return true
	}
	x.outcome = d.Outcome
	if d.Outcome == metrics.OutcomeUnavailable {
		h.log.ErrorContext(r.Context(), "authentication unavailable", "request_id", x.requestID, "route", rt.Name, "error", d.Err)
	}
	render(w, r, d)
	return false
}

// render writes a refusal: its headers, then the login redirect or the JSON
// error body.
func render(w http.ResponseWriter, r *http.Request, d Decision) {
	for k, v := range d.Header {
		w.Header()[k] = v
	}
	if d.Status == http.StatusFound {
		http.Redirect(w, r, d.Header.Get("Location"), d.Status)
		return
	}
	httpx.WriteError(w, r, d.Status, d.Code, d.Description)
}
