package auth

import (
	"strings"
	"time"
)

// Method names how an identity was established.
const (
	MethodSession = "session"
	MethodJWT     = "jwt"
)

// Identity is a verified caller. It is immutable once returned and safe to
// share between goroutines; callers must not modify its slices or maps.
type Identity struct {
	Subject   string    // the token's sub, or the session's username
	User      string    // mapped user name (X-Auth-User)
	Email     string    // may be empty
	Groups    []string  // in the source's order; may be nil
	Scopes    []string  // from the token's scope string or scp array; nil for sessions
	Method    string    // MethodSession or MethodJWT
	Issuer    string    // token iss; empty for sessions
	TokenID   string    // token jti; empty for sessions
	IssuedAt  time.Time // token iat or session creation
	ExpiresAt time.Time // token exp, or when the session ends if unused
	// Claims holds the token's full claim set for require.claims and extra
	// headers. For sessions it holds sub, email and groups.
	Claims map[string]any
}

// Claim looks up a dotted claim path such as "realm_access.roles".
func (id *Identity) Claim(path string) (any, bool) {
	return LookupClaim(id.Claims, path)
}

// LookupClaim walks a dotted path through nested JSON objects. A key that
// itself contains dots is found when it matches the whole remaining path.
func LookupClaim(claims map[string]any, path string) (any, bool) {
	if claims == nil || path == "" {
		return nil, false
	}
	if v, ok := claims[path]; ok {
		return v, true
	}
	head, rest, found := strings.Cut(path, ".")
	if !found {
		return nil, false
	}
	next, ok := claims[head].(map[string]any)
	if !ok {
		return nil, false
	}
	return LookupClaim(next, rest)
}

// HasGroup reports whether the identity is in any of groups.
func (id *Identity) HasGroup(groups ...string) bool {
	for _, g := range groups {
		for _, have := range id.Groups {
			if g == have {
				return true
			}
		}
	}
	return false
}

// HasScopes reports whether the identity carries every one of scopes.
func (id *Identity) HasScopes(scopes ...string) bool {
next:
	for _, s := range scopes {
		for _, have := range id.Scopes {
			if s == have {
				continue next
			}
		}
		return false
	}
	return true
}
