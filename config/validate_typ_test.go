package config

import (
	"testing"
	"time"
)

// Issue 9 items 5 and 9: jwt.max_lifetime and the route named like
// jwt.issue.audience.
func TestValidateMaxLifetimeAndAudienceClash(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"max_lifetime off", func(c *Config) { c.JWT.MaxLifetime = 0 }, nil},
		{"max_lifetime 24h", func(c *Config) { c.JWT.MaxLifetime = 24 * time.Hour }, nil},
		{"max_lifetime negative", func(c *Config) { c.JWT.MaxLifetime = -time.Minute },
			[]string{`jwt.max_lifetime: -1m0s is negative; want 0 (no limit) or a duration such as "24h"`}},
		{"max_lifetime under access_ttl", func(c *Config) { c.JWT.MaxLifetime = time.Minute },
			[]string{`jwt.max_lifetime: 1m0s is shorter than jwt.issue.access_ttl 5m0s: Gatehouse's own access tokens would be refused`}},
		{"max_lifetime under access_ttl, no issuing key", func(c *Config) {
			c.JWT.MaxLifetime = time.Minute
			c.JWT.Issue.SigningKeyFile = ""
		}, nil},
		{"route named like the audience", func(c *Config) { c.JWT.Issue.Audience = "api" },
			[]string{`routes[1].name: "api" is also jwt.issue.audience; an identity assertion for this route would carry the audience of Gatehouse's access tokens. Rename the route or set another jwt.issue.audience`}},
		{"route named like the default audience", func(c *Config) { c.Routes[2].Name = "gatehouse" },
			[]string{`routes[2].name: "gatehouse" is also jwt.issue.audience; an identity assertion for this route would carry the audience of Gatehouse's access tokens. Rename the route or set another jwt.issue.audience`}},
	})
}
