package metrics

import "github.com/gatehouse-proxy/gatehouse/auth"

// The outcomes a request can end with, by where it ends. Pre-creating
// exactly these series (at 0) lets rate() and increase() see the first
// request of each kind, without exporting series that can never move
// (route="_refused",outcome="allowed").
var (
	// Refused before routing (400) or matching no route (404).
	outcomesPseudo = []string{OutcomeBadRequest}
	// Reserved /.gatehouse/ endpoints: classified by their status.
	outcomesReserved = []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden,
		OutcomeBadRequest, OutcomeUnavailable, OutcomeError}
	// auth: none routes authenticate nothing; error stays for a handler
	// that fails before the request is forwarded.
	outcomesNone = []string{OutcomeAllowed, OutcomeError}
	// session, jwt and any routes: bad_request happens before routing only.
	outcomesAuth = []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden,
		OutcomeRevoked, OutcomeUnavailable, OutcomeError}
)

// RequestOutcomes lists the outcome values gatehouse_requests_total can
// carry for a route label (a route name or RouteRefused, RouteUnmatched,
// RouteGatehouse) and its auth mode. The slice is shared: do not modify it.
func RequestOutcomes(route, mode string) []string {
	switch {
	case route == RouteRefused || route == RouteUnmatched:
		return outcomesPseudo
	case route == RouteGatehouse:
		return outcomesReserved
	case mode == string(auth.ModeNone):
		return outcomesNone
	}
	return outcomesAuth
}

// Proxied reports whether requests under a route label can reach an
// upstream, and so have gatehouse_upstream_* series: false for
// RouteRefused, RouteUnmatched and RouteGatehouse.
func Proxied(route string) bool {
	return route != RouteRefused && route != RouteUnmatched && route != RouteGatehouse
}

// Authenticates reports whether an auth mode runs authentication, and so
// has gatehouse_auth_duration_seconds series: false for "none".
func Authenticates(mode string) bool { return mode != string(auth.ModeNone) }
