package main

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/auth/refresh"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy"
)

// TestDefaultsAgree: config.Default is the owner of the documented
// defaults; a package's zero-value default (what a library user gets
// without config) must be the same value, or the two drift.
func TestDefaultsAgree(t *testing.T) {
	t.Parallel()
	c := config.Default()
	durations := []struct {
		key       string
		cfg, pkg  time.Duration
		pkgSymbol string
	}{
		{"session.idle_timeout", c.Session.IdleTimeout, session.DefaultIdle, "session.DefaultIdle"},
		{"session.absolute_timeout", c.Session.AbsoluteTimeout, session.DefaultAbsolute, "session.DefaultAbsolute"},
		{"jwt.issue.access_ttl", c.JWT.Issue.AccessTTL, refresh.DefaultAccessTTL, "refresh.DefaultAccessTTL"},
		{"jwt.issue.refresh_ttl", c.JWT.Issue.RefreshTTL, refresh.DefaultRefreshTTL, "refresh.DefaultRefreshTTL"},
		{"jwt.issue.refresh_max_lifetime", c.JWT.Issue.RefreshMaxLifetime, refresh.DefaultMaxLifetime, "refresh.DefaultMaxLifetime"},
		{"store.timeout", c.Store.Timeout, redisstore.DefaultTimeout, "redisstore.DefaultTimeout"},
		{"server.upstream_timeout", c.Server.UpstreamTimeout, proxy.DefaultUpstreamTimeout, "proxy.DefaultUpstreamTimeout"},
	}
	for _, d := range durations {
		if d.cfg != d.pkg {
			t.Errorf("%s defaults to %v in config, %s is %v", d.key, d.cfg, d.pkgSymbol, d.pkg)
		}
	}
	if c.Session.CookieName != session.DefaultCookieName {
		t.Errorf("session.cookie_name defaults to %q in config, session.DefaultCookieName is %q", c.Session.CookieName, session.DefaultCookieName)
	}
	if c.Session.MaxPerUser != session.DefaultMaxPerUser {
		t.Errorf("session.max_per_user defaults to %d in config, session.DefaultMaxPerUser is %d", c.Session.MaxPerUser, session.DefaultMaxPerUser)
	}
	if c.Store.Redis.KeyPrefix != redisstore.DefaultKeyPrefix {
		t.Errorf("store.redis.key_prefix defaults to %q in config, redisstore.DefaultKeyPrefix is %q", c.Store.Redis.KeyPrefix, redisstore.DefaultKeyPrefix)
	}
	if got := sameSite(c.Session.SameSiteMode()); got != session.DefaultSameSite {
		t.Errorf("session.same_site defaults to %v in config, session's zero value is %v", got, session.DefaultSameSite)
	}
}
