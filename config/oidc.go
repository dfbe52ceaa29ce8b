package config

import "time"

// OIDC configures sign-in at external OpenID Providers (PRODUCT.md §9).
type OIDC struct {
	Providers []OIDCProvider `koanf:"providers"`
}

// OIDCProvider is one entry of oidc.providers. Unset fields take the
// defaults of §9 (see the methods).
type OIDCProvider struct {
	Name             string         `koanf:"name"`
	Title            string         `koanf:"title"`
	Issuer           string         `koanf:"issuer"`
	ClientID         string         `koanf:"client_id"`
	ClientSecretFile string         `koanf:"client_secret_file"`
	Scopes           []string       `koanf:"scopes"`
	RedirectURL      string         `koanf:"redirect_url"`
	Claims           OIDCClaims     `koanf:"claims"`
	AllowedGroups    []string       `koanf:"allowed_groups"`
	Revalidate       *time.Duration `koanf:"revalidate"`  // nil: DefaultOIDCRevalidate
	EndSession       *bool          `koanf:"end_session"` // nil: true
}

// OIDCClaims are the claim paths (dotted paths allowed) of the identity.
type OIDCClaims struct {
	User   string `koanf:"user"`
	Email  string `koanf:"email"`
	Groups string `koanf:"groups"`
}

// DefaultOIDCRevalidate is oidc.providers[].revalidate when unset.
const DefaultOIDCRevalidate = 5 * time.Minute

// RevalidateEvery is revalidate with its default.
func (p OIDCProvider) RevalidateEvery() time.Duration {
	if p.Revalidate == nil {
		return DefaultOIDCRevalidate
	}
	return *p.Revalidate
}

// EndsSession is end_session with its default (true).
func (p OIDCProvider) EndsSession() bool { return p.EndSession == nil || *p.EndSession }

// ClaimsOrDefault fills in the default claim paths
// (preferred_username, email, groups).
func (p OIDCProvider) ClaimsOrDefault() OIDCClaims {
	c := p.Claims
	if c.User == "" {
		c.User = "preferred_username"
	}
	if c.Email == "" {
		c.Email = "email"
	}
	if c.Groups == "" {
		c.Groups = "groups"
	}
	return c
}
