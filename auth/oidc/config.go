package oidc

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
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

// Config is one provider (PRODUCT.md §9 oidc.providers[]).
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

var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// Check validates providers without network I/O, naming the key of each
// problem: prefix is the key of the list (oidc.providers).
func Check(prefix string, ps []Config) []error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range ps {
		k := fmt.Sprintf("%s[%d]", prefix, i)
		if !nameRE.MatchString(p.Name) {
			errs = append(errs, fmt.Errorf("%s.name: %q: want lower-case letters, digits, _ and -", k, p.Name))
		} else if seen[p.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q: used by another provider; names must be unique", k, p.Name))
		}
		seen[p.Name] = true
		if err := checkIssuer(p.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("%s.issuer: %q: %v", k, p.Issuer, err))
		}
		if p.ClientID == "" {
			errs = append(errs, fmt.Errorf("%s.client_id: empty: want the client ID registered at the provider", k))
		}
		if p.RedirectURL != "" {
			u, err := url.Parse(p.RedirectURL)
			if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) || u.Host == "" || u.Path != CallbackPath {
				errs = append(errs, fmt.Errorf("%s.redirect_url: %q: want an absolute https URL (http only on loopback) ending in %s", k, p.RedirectURL, CallbackPath))
			}
		}
		for _, c := range []struct{ key, path string }{{"user", p.Claims.User}, {"email", p.Claims.Email}, {"groups", p.Claims.Groups}} {
			if c.path != "" && (strings.HasPrefix(c.path, ".") || strings.HasSuffix(c.path, ".") || strings.Contains(c.path, "..")) {
				errs = append(errs, fmt.Errorf("%s.claims.%s: %q: want a claim name or a dotted path such as realm_access.roles", k, c.key, c.path))
			}
		}
		if p.Revalidate < 0 {
			errs = append(errs, fmt.Errorf("%s.revalidate: %s: want a duration of 0 (never) or more", k, p.Revalidate))
		}
	}
	return errs
}

func checkIssuer(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("want an absolute URL such as https://idp.example.com")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("want an https URL (http only for loopback hosts)")
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
