package config

import (
	"testing"
	"time"
)

func TestValidateValid(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("validConfig().Validate(): got %v, want nil", err)
	}
}

type validateCase struct {
	name   string
	mutate func(c *Config)
	want   []string // nil: valid
}

func runValidateCases(t *testing.T, tests []validateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(c)
			assertProblems(t, tt.name, c.Validate(), tt.want)
		})
	}
}

func TestValidateListenersAndUpstreams(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"listen ok ip", func(c *Config) { c.Listen = "127.0.0.1:0" }, nil},
		{"listen ok ipv6", func(c *Config) { c.Listen = "[::1]:8080" }, nil},
		{"listen no port", func(c *Config) { c.Listen = "8080" },
			[]string{`listen: "8080" is not host:port; write e.g. ":8080" or "127.0.0.1:8080"`}},
		{"listen bad port", func(c *Config) { c.Listen = ":http" },
			[]string{`listen: ":http" is not host:port; write e.g. ":8080" or "127.0.0.1:8080"`}},
		{"listen port range", func(c *Config) { c.Listen = ":70000" },
			[]string{`listen: ":70000" is not host:port; write e.g. ":8080" or "127.0.0.1:8080"`}},
		{"admin listen", func(c *Config) { c.Admin.Listen = "localhost" },
			[]string{`admin.listen: "localhost" is not host:port; write e.g. ":8080" or "127.0.0.1:8080"`}},
		{"console groups", func(c *Config) { c.Admin.Console.Groups = []string{"admins", ""} },
			[]string{`admin.console.groups[1]: empty; name a group, e.g. "admins"`}},
		{"console networks", func(c *Config) { c.Admin.Console.Networks = []string{"10.0.0.0/8", "office"} },
			[]string{`admin.console.networks[1]: "office" is not a CIDR or IP address; write e.g. "10.0.0.0/8" or "192.168.1.10"`}},
		{"audit max events", func(c *Config) { c.Audit.MaxEvents = 0 },
			[]string{`audit.max_events: 0 is out of range; write a number from 1 to 1000000, e.g. 10000`}},
		{"upstream no scheme", func(c *Config) { c.Upstream = "localhost:3000" },
			[]string{`upstream: "localhost:3000" has no scheme; write "http://localhost:3000"`}},
		{"upstream ftp", func(c *Config) { c.Upstream = "ftp://files" },
			[]string{`upstream: "ftp://files" has scheme "ftp"; want http or https`}},
		{"upstream no host", func(c *Config) { c.Upstream = "http:///x" },
			[]string{`upstream: "http:///x" has no host; write e.g. "http://127.0.0.1:3000"`}},
		{"upstream credentials redacted", func(c *Config) { c.Upstream = "http://u:hunter2@app" },
			[]string{`upstream: "http://u:xxxxx@app" carries credentials; upstream URLs may not contain user:password@`}},
		{"upstream query", func(c *Config) { c.Upstream = "http://app/?x=1" },
			[]string{`upstream: "http://app/?x=1" has a query or fragment; an upstream is scheme://host[:port][/path]`}},
		{"upstream with path ok", func(c *Config) { c.Upstream = "https://app.internal:8443/base" }, nil},
		{"route upstream", func(c *Config) { c.Routes[0].Upstream = "app:80" },
			[]string{`routes[0].upstream: "app:80" has no scheme; write "http://app:80"`}},
		{"no default upstream but every route has one", func(c *Config) {
			c.Upstream = ""
			for i := range c.Routes {
				c.Routes[i].Upstream = "http://127.0.0.1:3000"
			}
		}, nil},
		{"no upstream at all", func(c *Config) { c.Upstream = ""; c.Routes = c.Routes[2:] },
			[]string{`routes[0].upstream: empty, and so is the top-level upstream; set one of them`}},
		{"trusted proxies ok", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.10", "fd00::/8"} }, nil},
		{"trusted proxies bad", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33", "proxy.local"} },
			[]string{
				`trusted_proxies[1]: "10.0.0.0/33" is not a CIDR or IP address; write e.g. "10.0.0.0/8" or "192.168.1.10"`,
				`trusted_proxies[2]: "proxy.local" is not a CIDR or IP address; write e.g. "10.0.0.0/8" or "192.168.1.10"`,
			}},
		{"forward auth with trusted proxies", func(c *Config) { c.ForwardAuth.Enabled = true; c.TrustedProxies = []string{"10.0.0.0/8"} }, nil},
		{"forward auth without trusted proxies", func(c *Config) { c.ForwardAuth.Enabled = true },
			[]string{`forward_auth.enabled: true, but trusted_proxies is empty, so every caller would get 403; list the ingress's addresses in trusted_proxies, or set enabled: false`}},
	})
}

func TestValidateServerStoreLogin(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"zero timeouts", func(c *Config) {
			c.Server.ReadHeaderTimeout = 0
			c.Server.IdleTimeout = -time.Second
			c.Server.UpstreamTimeout = 0
			c.Server.ShutdownTimeout = 0
			c.Server.MaxHeaderBytes = 0
		}, []string{
			`server.read_header_timeout: 0s is not positive; write e.g. "30s", "5m"`,
			`server.idle_timeout: -1s is not positive; write e.g. "30s", "5m"`,
			`server.upstream_timeout: 0s is not positive; write e.g. "30s", "5m"`,
			`server.shutdown_timeout: 0s is not positive; write e.g. "30s", "5m"`,
			`server.max_header_bytes: 0 is not positive; write e.g. 32768`,
		}},
		{"tls both ok", func(c *Config) { c.Server.TLS = ServerTLS{CertFile: "tls.crt", KeyFile: "tls.key"} }, nil},
		{"tls cert only", func(c *Config) { c.Server.TLS.CertFile = "tls.crt" },
			[]string{`server.tls.key_file: empty, but server.tls.cert_file is set; set both for HTTPS, or neither for plain HTTP`}},
		{"tls key only", func(c *Config) { c.Server.TLS.KeyFile = "tls.key" },
			[]string{`server.tls.cert_file: empty, but server.tls.key_file is set; set both for HTTPS, or neither for plain HTTP`}},
		{"redis ca_file ok", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.TLS = true; c.Store.Redis.CAFile = "ca.pem" }, nil},
		{"redis ca_file without tls", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.CAFile = "ca.pem" },
			[]string{`store.redis.ca_file: is set, but store.redis.tls is false; set tls: true, or remove ca_file`}},
		{"store type", func(c *Config) { c.Store.Type = "etcd" },
			[]string{`store.type: unknown type "etcd" (want memory, redis)`}},
		{"store on_error", func(c *Config) { c.Store.OnError = "open" },
			[]string{`store.on_error: unknown value "open" (want deny, allow)`}},
		{"store timeout", func(c *Config) { c.Store.Timeout = 0 },
			[]string{`store.timeout: 0s is not positive; write e.g. "30s", "5m"`}},
		{"redis ok", func(c *Config) { c.Store.Type = "redis" }, nil},
		{"redis no addrs", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.Addrs = nil },
			[]string{`store.redis.addrs: empty, but store.type is redis; list at least one host:port`}},
		{"memory ignores redis addrs", func(c *Config) { c.Store.Redis.Addrs = nil }, nil},
		{"redis bad addr", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.Addrs = []string{"a:6379", "b"} },
			[]string{`store.redis.addrs[1]: "b" is not host:port; write e.g. ":8080" or "127.0.0.1:8080"`}},
		{"redis negative db", func(c *Config) { c.Store.Type = "redis"; c.Store.Redis.DB = -1 },
			[]string{`store.redis.db: -1 is negative`}},
		{"redis cluster db", func(c *Config) {
			c.Store.Type = "redis"
			c.Store.Redis.Addrs = []string{"a:6379", "b:6379"}
			c.Store.Redis.DB = 2
		}, []string{`store.redis.db: 2 is set, but a Redis cluster (several addrs) has only database 0`}},
		{"redis sentinel db ok", func(c *Config) {
			c.Store.Type = "redis"
			c.Store.Redis.Addrs = []string{"a:26379", "b:26379"}
			c.Store.Redis.MasterName = "mymaster"
			c.Store.Redis.DB = 2
		}, nil},
		{"login rates", func(c *Config) { c.Login.Rate = "5/m"; c.Login.ClientRate = "0/s" },
			[]string{
				`login.rate: "5/m" has unknown unit "m" (want s, sec, min, h or hour, e.g. "5/min")`,
				`login.client_rate: "0/s" has count 0; want a whole number from 1 up`,
			}},
	})
}

func TestValidateSession(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"same_site", func(c *Config) { c.Session.SameSite = "none" },
			[]string{`session.same_site: unknown value "none" (want lax, strict)`}},
		{"idle longer than absolute", func(c *Config) { c.Session.IdleTimeout = 13 * time.Hour },
			[]string{`session.idle_timeout: 13h0m0s is longer than session.absolute_timeout (12h0m0s)`}},
		{"idle equal absolute ok", func(c *Config) { c.Session.IdleTimeout = 12 * time.Hour }, nil},
		{"zero timeouts", func(c *Config) { c.Session.IdleTimeout = 0; c.Session.AbsoluteTimeout = 0 },
			[]string{
				`session.idle_timeout: 0s is not positive; write e.g. "30s", "5m"`,
				`session.absolute_timeout: 0s is not positive; write e.g. "30s", "5m"`,
			}},
		{"cookie name space", func(c *Config) { c.Session.CookieName = "my session" },
			[]string{"session.cookie_name: \"my session\" is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"}},
		{"cookie name empty", func(c *Config) { c.Session.CookieName = "" },
			[]string{"session.cookie_name: \"\" is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"}},
		{"cookie name equals", func(c *Config) { c.Session.CookieName = "a=b" },
			[]string{"session.cookie_name: \"a=b\" is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"}},
		{"host prefix ok", func(c *Config) { c.Session.CookieName = "__Host-gh" }, nil},
		{"host prefix with domain", func(c *Config) { c.Session.CookieName = "__Host-gh"; c.Session.Domain = "example.com" },
			[]string{`session.cookie_name: "__Host-gh" needs session.secure: true and an empty session.domain`}},
		{"secure prefix insecure", func(c *Config) { c.Session.CookieName = "__Secure-gh"; c.Session.Secure = false },
			[]string{`session.cookie_name: "__Secure-gh" needs session.secure: true`}},
		{"domain", func(c *Config) { c.Session.Domain = "https://example.com" },
			[]string{`session.domain: "https://example.com" is not a domain name`}},
		{"max per user zero", func(c *Config) { c.Session.MaxPerUser = 0 },
			[]string{`session.max_per_user: 0: want a whole number of sessions, 1 or more`}},
		{"max per user one ok", func(c *Config) { c.Session.MaxPerUser = 1 }, nil},
	})
}

func TestValidateIdentityHeaders(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"extra ok", func(c *Config) { c.IdentityHeaders.Extra = map[string]string{"X-Auth-Tenant": "tenant"} }, nil},
		{"assertion ok", func(c *Config) { c.IdentityHeaders.Assertion = "X-Auth-Assertion" }, nil},
		{"assertion needs key", func(c *Config) {
			c.IdentityHeaders.Assertion = "X-Auth-Assertion"
			c.JWT.Issue.SigningKeyFile = ""
		}, []string{`identity_headers.assertion: is set, but jwt.issue.signing_key_file is empty; the assertion is signed with that key`}},
		{"invalid name", func(c *Config) { c.IdentityHeaders.User = "X Auth User" },
			[]string{`identity_headers.user: "X Auth User" is not a valid header name`}},
		{"empty required", func(c *Config) { c.IdentityHeaders.Method = "" },
			[]string{`identity_headers.method: empty; name a header, e.g. X-Auth-User`}},
		{"duplicate ignoring case", func(c *Config) { c.IdentityHeaders.Email = "x-auth-user" },
			[]string{`identity_headers.email: "x-auth-user" is also used by identity_headers.user (header names are compared ignoring case and _ vs -)`}},
		{"duplicate underscore", func(c *Config) { c.IdentityHeaders.Assertion = "X_Auth_Groups" },
			[]string{`identity_headers.assertion: "X_Auth_Groups" is also used by identity_headers.groups (header names are compared ignoring case and _ vs -)`}},
		{"duplicate in extra", func(c *Config) { c.IdentityHeaders.Extra = map[string]string{"X-AUTH-METHOD": "amr"} },
			[]string{`identity_headers.extra.X-AUTH-METHOD: "X-AUTH-METHOD" is also used by identity_headers.method (header names are compared ignoring case and _ vs -)`}},
		{"extra empty claim", func(c *Config) { c.IdentityHeaders.Extra = map[string]string{"X-Auth-Tenant": ""} },
			[]string{`identity_headers.extra.X-Auth-Tenant: empty claim path; name a claim, e.g. tenant`}},
		{"reserved", func(c *Config) {
			c.IdentityHeaders.Groups = "Cookie"
			c.IdentityHeaders.Extra = map[string]string{"x-forwarded-for": "ip"}
		},
			[]string{
				`identity_headers.groups: "Cookie" is reserved; choose another name, e.g. X-Auth-...`,
				`identity_headers.extra.x-forwarded-for: "x-forwarded-for" is reserved; choose another name, e.g. X-Auth-...`,
			}},
	})
}
