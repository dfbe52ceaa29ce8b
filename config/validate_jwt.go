package config

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// The JWS algorithms an issuer may allow (auth/jwtauth's, which verifies
// them), and the claim mappings it may set.
var (
	hmacAlgorithms       = jwtauth.HMACAlgorithms()
	asymmetricAlgorithms = jwtauth.PublicKeyAlgorithms()
	claimNames           = []string{"user", "email", "groups"}
)

// maxLeeway bounds jwt.leeway: more would keep expired tokens alive.
const maxLeeway = 5 * time.Minute

func (c *Config) validateJWT(p *problems) {
	j := c.JWT
	if j.Leeway < 0 || j.Leeway > maxLeeway {
		p.add("jwt.leeway", "%s is out of range; want 0s to 5m, e.g. \"30s\"", j.Leeway)
	}
	seen := map[string]int{}
	for i := range j.Issuers {
		path := index("jwt.issuers", i)
		is := &j.Issuers[i]
		if strings.TrimSpace(is.Issuer) == "" {
			p.add(path+".issuer", "empty; write the iss value of the tokens, e.g. \"https://idp.example.com\"")
		} else if k, dup := seen[is.Issuer]; dup {
			p.add(path+".issuer", "%q is also jwt.issuers[%d]; merge them into one entry", is.Issuer, k)
		} else {
			seen[is.Issuer] = i
		}
		if len(is.Audiences) == 0 {
			p.add(path+".audiences", "empty; list the aud values to accept, e.g. [my-api]")
		}
		for k, a := range is.Audiences {
			if strings.TrimSpace(a) == "" {
				p.add(index(path+".audiences", k), "empty audience")
			}
		}
		validateIssuerKeys(p, path, is)
		for _, k := range sortedKeys(is.Claims) {
			if !slices.Contains(claimNames, k) {
				p.add(path+".claims."+k, "unknown key (want %s)", oneOf(claimNames...))
			} else if strings.TrimSpace(is.Claims[k]) == "" {
				p.add(path+".claims."+k, "empty claim path; write e.g. %q", map[string]string{"user": "sub", "email": "email", "groups": "groups"}[k])
			}
		}
	}
	validateIssue(p, j.Issue)
	if j.MaxLifetime < 0 {
		p.add("jwt.max_lifetime", "%s is negative; want 0 (no limit) or a duration such as \"24h\"", j.MaxLifetime)
	} else if j.MaxLifetime > 0 && j.Issue.SigningKeyFile != "" && j.Issue.AccessTTL > j.MaxLifetime {
		p.add("jwt.max_lifetime", "%s is shorter than jwt.issue.access_ttl %s: Gatehouse's own access tokens would be refused", j.MaxLifetime, j.Issue.AccessTTL)
	}
	c.validateAudienceClash(p)
}

// validateAudienceClash refuses a route named like jwt.issue.audience: an
// identity assertion made for that route would carry the audience of
// Gatehouse's own access tokens.
func (c *Config) validateAudienceClash(p *problems) {
	aud := c.JWT.Issue.Audience
	for i, r := range c.Routes {
		if aud != "" && r.Name == aud {
			p.add(index("routes", i)+".name", "%q is also jwt.issue.audience; an identity assertion for this route would carry the audience of Gatehouse's access tokens. Rename the route or set another jwt.issue.audience", r.Name)
		}
	}
}

// validateIssuerKeys checks the issuer's algorithms and key source, and that
// they agree: HMAC secrets only with HS*, public keys only with the rest, so
// a public key can never be used as an HMAC secret.
func validateIssuerKeys(p *problems, path string, is *Issuer) {
	if len(is.Algorithms) == 0 {
		p.add(path+".algorithms", "empty; list the allowed algorithms, e.g. [RS256]")
	}
	all := append(slices.Clone(hmacAlgorithms), asymmetricAlgorithms...)
	for k, a := range is.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			p.add(index(path+".algorithms", k), "%q is never accepted: unsigned tokens prove nothing", a)
		case !slices.Contains(all, a):
			p.add(index(path+".algorithms", k), "unknown algorithm %q (want %s)", a, oneOf(all...))
		}
	}
	sources := 0
	for _, set := range []bool{is.JWKSURL != "", len(is.PublicKeyFiles) > 0, is.HMACSecretFile != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		p.add(path, "needs exactly one of jwks_url, public_key_files, hmac_secret_file (has %d)", sources)
	}
	if is.JWKSURL != "" {
		checkJWKSURL(p, path+".jwks_url", is.JWKSURL)
	}
	for k, f := range is.PublicKeyFiles {
		if f == "" {
			p.add(index(path+".public_key_files", k), "empty file name")
		}
	}
	if sources != 1 {
		return
	}
	hmac := is.HMACSecretFile != ""
	for k, a := range is.Algorithms {
		switch {
		case hmac && slices.Contains(asymmetricAlgorithms, a):
			p.add(index(path+".algorithms", k), "%s needs a public key, but this issuer has hmac_secret_file; want %s", a, oneOf(hmacAlgorithms...))
		case !hmac && slices.Contains(hmacAlgorithms, a):
			p.add(index(path+".algorithms", k), "%s is HMAC, but this issuer has public keys (jwks_url or public_key_files); HMAC needs hmac_secret_file", a)
		}
	}
}

// checkJWKSURL requires https, allowing plain http only to a loopback host.
func checkJWKSURL(p *problems, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p.add(path, "%q is not an absolute https URL, e.g. \"https://idp.example.com/.well-known/jwks.json\"", raw)
		return
	}
	if u.User != nil {
		p.add(path, "%q carries credentials; JWKS URLs may not contain user:password@", u.Redacted())
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		p.add(path, "%q uses http; keys must come over https (http is allowed only for localhost)", raw)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validateIssue(p *problems, is Issue) {
	positive(p, "jwt.issue.access_ttl", is.AccessTTL)
	positive(p, "jwt.issue.refresh_ttl", is.RefreshTTL)
	validateRefreshMaxLifetime(p, is)
	if is.SigningKeyFile == "" {
		if len(is.PreviousKeyFiles) > 0 {
			p.add("jwt.issue.previous_key_files", "set without jwt.issue.signing_key_file; set the current key too")
		}
		return
	}
	if strings.TrimSpace(is.Issuer) == "" {
		p.add("jwt.issue.issuer", "empty; write the iss for tokens Gatehouse signs, e.g. \"http://localhost:8080\"")
	}
	if strings.TrimSpace(is.Audience) == "" {
		p.add("jwt.issue.audience", "empty; write the aud for tokens Gatehouse signs, e.g. \"gatehouse\"")
	}
	for k, f := range is.PreviousKeyFiles {
		if f == "" {
			p.add(index("jwt.issue.previous_key_files", k), "empty file name")
		}
	}
}

// validateRefreshMaxLifetime wants jwt.issue.refresh_max_lifetime positive
// and at least refresh_ttl: a refresh token never outlives its family's
// maximum lifetime, so a longer refresh_ttl would be silently cut.
func validateRefreshMaxLifetime(p *problems, is Issue) {
	const key = "jwt.issue.refresh_max_lifetime"
	positive(p, key, is.RefreshMaxLifetime)
	if is.RefreshMaxLifetime > 0 && is.RefreshTTL > is.RefreshMaxLifetime {
		p.add(key, "%v is shorter than jwt.issue.refresh_ttl (%v); make it at least refresh_ttl, or shorten refresh_ttl",
			is.RefreshMaxLifetime, is.RefreshTTL)
	}
}
