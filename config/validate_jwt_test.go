package config

import (
	"testing"
	"time"
)

func TestValidateJWT(t *testing.T) {
	hmac := func(c *Config) {
		c.JWT.Issuers[0].PublicKeyFiles = nil
		c.JWT.Issuers[0].HMACSecretFile = "secret"
		c.JWT.Issuers[0].Algorithms = []string{"HS256"}
	}
	runValidateCases(t, []validateCase{
		{"leeway zero ok", func(c *Config) { c.JWT.Leeway = 0 }, nil},
		{"leeway max ok", func(c *Config) { c.JWT.Leeway = 5 * time.Minute }, nil},
		{"leeway too long", func(c *Config) { c.JWT.Leeway = 6 * time.Minute },
			[]string{`jwt.leeway: 6m0s is out of range; want 0s to 5m, e.g. "30s"`}},
		{"leeway negative", func(c *Config) { c.JWT.Leeway = -time.Second },
			[]string{`jwt.leeway: -1s is out of range; want 0s to 5m, e.g. "30s"`}},
		{"issuer empty", func(c *Config) { c.JWT.Issuers[0].Issuer = "" },
			[]string{`jwt.issuers[0].issuer: empty; write the iss value of the tokens, e.g. "https://idp.example.com"`}},
		{"issuer duplicate", func(c *Config) { c.JWT.Issuers = append(c.JWT.Issuers, c.JWT.Issuers[0]) },
			[]string{`jwt.issuers[1].issuer: "https://idp.example.com" is also jwt.issuers[0]; merge them into one entry`}},
		{"audiences empty", func(c *Config) { c.JWT.Issuers[0].Audiences = nil },
			[]string{`jwt.issuers[0].audiences: empty; list the aud values to accept, e.g. [my-api]`}},
		{"audience blank", func(c *Config) { c.JWT.Issuers[0].Audiences = []string{"a", " "} },
			[]string{`jwt.issuers[0].audiences[1]: empty audience`}},
		{"algorithms empty", func(c *Config) { c.JWT.Issuers[0].Algorithms = nil },
			[]string{`jwt.issuers[0].algorithms: empty; list the allowed algorithms, e.g. [RS256]`}},
		{"alg none", func(c *Config) { c.JWT.Issuers[0].Algorithms = []string{"RS256", "None"} },
			[]string{`jwt.issuers[0].algorithms[1]: "None" is never accepted: unsigned tokens prove nothing`}},
		{"alg unknown", func(c *Config) { c.JWT.Issuers[0].Algorithms = []string{"rs256"} },
			[]string{`jwt.issuers[0].algorithms[0]: unknown algorithm "rs256" (want HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)`}},
		{"all asymmetric ok", func(c *Config) {
			c.JWT.Issuers[0].Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
		}, nil},
		{"no key source", func(c *Config) { c.JWT.Issuers[0].PublicKeyFiles = nil },
			[]string{`jwt.issuers[0]: needs exactly one of jwks_url, public_key_files, hmac_secret_file (has 0)`}},
		{"two key sources", func(c *Config) { c.JWT.Issuers[0].JWKSURL = "https://idp.example.com/jwks" },
			[]string{`jwt.issuers[0]: needs exactly one of jwks_url, public_key_files, hmac_secret_file (has 2)`}},
		{"hmac ok", hmac, nil},
		{"hmac with RS256", func(c *Config) { hmac(c); c.JWT.Issuers[0].Algorithms = []string{"HS256", "RS256"} },
			[]string{`jwt.issuers[0].algorithms[1]: RS256 needs a public key, but this issuer has hmac_secret_file; want HS256, HS384, HS512`}},
		{"public key with HS256", func(c *Config) { c.JWT.Issuers[0].Algorithms = []string{"HS256"} },
			[]string{`jwt.issuers[0].algorithms[0]: HS256 is HMAC, but this issuer has public keys (jwks_url or public_key_files); HMAC needs hmac_secret_file`}},
		{"jwks https ok", func(c *Config) {
			c.JWT.Issuers[0].PublicKeyFiles = nil
			c.JWT.Issuers[0].JWKSURL = "https://idp.example.com/.well-known/jwks.json"
		}, nil},
		{"jwks http loopback ok", func(c *Config) {
			c.JWT.Issuers[0].PublicKeyFiles = nil
			c.JWT.Issuers[0].JWKSURL = "http://127.0.0.1:8081/jwks"
		}, nil},
		{"jwks http localhost ok", func(c *Config) {
			c.JWT.Issuers[0].PublicKeyFiles = nil
			c.JWT.Issuers[0].JWKSURL = "http://localhost/jwks"
		}, nil},
		{"jwks http remote", func(c *Config) {
			c.JWT.Issuers[0].PublicKeyFiles = nil
			c.JWT.Issuers[0].JWKSURL = "http://idp.example.com/jwks"
		}, []string{`jwt.issuers[0].jwks_url: "http://idp.example.com/jwks" uses http; keys must come over https (http is allowed only for localhost)`}},
		{"jwks relative", func(c *Config) {
			c.JWT.Issuers[0].PublicKeyFiles = nil
			c.JWT.Issuers[0].JWKSURL = "/jwks"
		}, []string{`jwt.issuers[0].jwks_url: "/jwks" is not an absolute https URL, e.g. "https://idp.example.com/.well-known/jwks.json"`}},
		{"claims unknown key", func(c *Config) { c.JWT.Issuers[0].Claims["name"] = "preferred_username" },
			[]string{`jwt.issuers[0].claims.name: unknown key (want user, email, groups)`}},
		{"claims empty path", func(c *Config) { c.JWT.Issuers[0].Claims["groups"] = "" },
			[]string{`jwt.issuers[0].claims.groups: empty claim path; write e.g. "groups"`}},
		{"issue ttls", func(c *Config) { c.JWT.Issue.AccessTTL = 0; c.JWT.Issue.RefreshTTL = -time.Hour },
			[]string{
				`jwt.issue.access_ttl: 0s is not positive; write e.g. "30s", "5m"`,
				`jwt.issue.refresh_ttl: -1h0m0s is not positive; write e.g. "30s", "5m"`,
			}},
		{"refresh max lifetime not positive", func(c *Config) { c.JWT.Issue.RefreshMaxLifetime = 0 },
			[]string{`jwt.issue.refresh_max_lifetime: 0s is not positive; write e.g. "30s", "5m"`}},
		{"refresh max lifetime under refresh ttl", func(c *Config) { c.JWT.Issue.RefreshMaxLifetime = time.Hour },
			[]string{`jwt.issue.refresh_max_lifetime: 1h0m0s is shorter than jwt.issue.refresh_ttl (720h0m0s); make it at least refresh_ttl, or shorten refresh_ttl`}},
		{"issue without issuer", func(c *Config) { c.JWT.Issue.Issuer = ""; c.JWT.Issue.Audience = "" },
			[]string{
				`jwt.issue.issuer: empty; write the iss for tokens Gatehouse signs, e.g. "http://localhost:8080"`,
				`jwt.issue.audience: empty; write the aud for tokens Gatehouse signs, e.g. "gatehouse"`,
			}},
		{"previous keys without current", func(c *Config) {
			c.JWT.Issue.SigningKeyFile = ""
			c.JWT.Issue.PreviousKeyFiles = []string{"old.pem"}
		}, []string{`jwt.issue.previous_key_files: set without jwt.issue.signing_key_file; set the current key too`}},
	})
}
