package auth

import "errors"

// The three ways a credential check fails. Test with errors.Is.
var (
	// ErrNoCredentials means the request presented no credential of the
	// kind asked for.
	ErrNoCredentials = errors.New("no credentials")
	// ErrInvalid means a credential was presented and refused: bad
	// signature, expired, wrong issuer or audience, unknown session.
	ErrInvalid = errors.New("invalid credentials")
	// ErrRevoked means the credential was valid but has been revoked.
	ErrRevoked = errors.New("credentials revoked")
	// ErrUnavailable means a dependency (the store, a JWKS endpoint) could
	// not answer, so no decision was possible.
	ErrUnavailable = errors.New("authentication unavailable")
	// ErrNotFound is returned by stores for a missing session or token.
	ErrNotFound = errors.New("not found")
)

// Error is a refusal with a description that is safe to show to the client:
// it never contains the credential itself. Kind is one of the errors above.
type Error struct {
	Kind        error
	Description string
	Cause       error // for the log only; may be nil
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Description + ": " + e.Cause.Error()
	}
	return e.Description
}

// Unwrap lets errors.Is see both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// Describe returns the client-safe description of err, or "" if err carries
// none.
func Describe(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Description
	}
	return ""
}
