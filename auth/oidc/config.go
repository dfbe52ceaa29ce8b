package oidc

import (
	"slices"
	"time"
)

// Claims names the claim paths (dotted paths allowed) of the user name,
// email and groups.
type Claims struct {
	User, Email, Groups string
}

// DefaultClaims is the claim mapping of §9.
var DefaultClaims = Claims{User: "preferred_username", Email: "email", Groups: "groups"}

// DefaultScopes are sent when Config.Scopes is empty.
var DefaultScopes = []string{"openid", "email", "profile"}

// SigningAlgs is the algorithm allow-list of ID and logout tokens:
// asymmetric algorithms only (HMAC and none are refused).
var SigningAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config is one provider (PRODUCT.md §9 oidc.providers[]); config
// (validate_oidc.go) checks it without network I/O.
type Config struct {
	Name          string
	Title         string
	Issuer        string
	ClientID      string
	ClientSecret  string // "" for a public client (PKCE alone)
	Scopes        []string
	RedirectURL   string // "" means https://<request host>/.gatehouse/oidc/callback
	Claims        Claims
	AllowedGroups []string
	Revalidate    time.Duration
	EndSession    bool
	// Leeway is jwt.leeway: allowed clock skew for ID and logout tokens.
	Leeway time.Duration
}

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.Claims.User == "" {
		c.Claims.User = DefaultClaims.User
	}
	if c.Claims.Email == "" {
		c.Claims.Email = DefaultClaims.Email
	}
	if c.Claims.Groups == "" {
		c.Claims.Groups = DefaultClaims.Groups
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes
	}
	if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.Title == "" {
		c.Title = "Sign in with " + c.Name
	}
	return c
}
