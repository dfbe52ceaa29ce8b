package auth

// Mode is which credentials a route accepts. It lives here, beside
// Identity, so that config (which parses it) and proxy (which applies it)
// share one definition; it says nothing of how a credential is checked.
type Mode string

// The modes of a route.
const (
	ModeNone    Mode = "none"    // no credential; an empty identity
	ModeSession Mode = "session" // the session cookie
	ModeJWT     Mode = "jwt"     // a Bearer JWT
	ModeAny     Mode = "any"     // a Bearer JWT if one is sent, else the session cookie
)

// Modes lists every mode, in the order config errors name them.
var Modes = []Mode{ModeNone, ModeSession, ModeJWT, ModeAny}

// Valid reports whether m is one of Modes.
func (m Mode) Valid() bool {
	switch m {
	case ModeNone, ModeSession, ModeJWT, ModeAny:
		return true
	}
	return false
}
