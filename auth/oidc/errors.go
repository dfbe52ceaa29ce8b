package oidc

import (
	"errors"
	"net/http"
)

// Kind classifies a failed sign-in step; Status maps it to §9's statuses.
type Kind int

// Kinds of failure.
const (
	KindInvalid     Kind = iota // bad, missing or reused state; an ID token that fails verification: 400
	KindDenied                  // access_denied at the IdP, or not in allowed_groups: 403
	KindUpstream                // a failed code exchange or an unreachable IdP: 502
	KindNotReady                // the provider is not discovered yet: 503
	KindUnavailable             // the session store could not answer: 503
)

// Error is a failed sign-in step. Description is safe to show: it never
// holds a token, code or secret; Cause may, and is only logged.
type Error struct {
	Kind        Kind
	Description string
	Cause       error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Description + ": " + e.Cause.Error()
	}
	return e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

// Status is the HTTP status of the error page.
func (e *Error) Status() int {
	switch e.Kind {
	case KindDenied:
		return http.StatusForbidden
	case KindUpstream:
		return http.StatusBadGateway
	case KindNotReady, KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}

// Result is the gatehouse_oidc_logins_total result of the error.
func (e *Error) Result() string {
	switch e.Kind {
	case KindDenied:
		return "denied"
	case KindInvalid:
		return "failure"
	default:
		return "error"
	}
}

// AsError returns err as an *Error (KindUnavailable when it is not one).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindUnavailable, Description: "sign-in failed", Cause: err}
}

func invalid(desc string, cause error) error {
	return &Error{Kind: KindInvalid, Description: desc, Cause: cause}
}
