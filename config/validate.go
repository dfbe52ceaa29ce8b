package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// Validate checks the whole configuration without any I/O (it does not read
// the files the config names; see CheckFiles) and returns every problem as
// an errors.Join of *FieldError, in file order, or nil when there is none.
// It does not modify c. Safe for concurrent use as long as c is not being
// modified.
func (c *Config) Validate() error {
	var p problems
	checkHostPort(&p, "listen", c.Listen)
	if c.Upstream != "" { // empty: every route must name its own
		checkUpstream(&p, "upstream", c.Upstream)
	}
	for i, tp := range c.TrustedProxies {
		checkPrefix(&p, index("trusted_proxies", i), tp)
	}
	c.validateServer(&p)
	checkHostPort(&p, "admin.listen", c.Admin.Listen)
	c.validateStore(&p)
	checkRate(&p, "login.rate", c.Login.Rate)
	checkRate(&p, "login.client_rate", c.Login.ClientRate)
	checkLogoURL(&p, "login.logo_url", c.Login.LogoURL)
	c.validateSession(&p)
	c.validateJWT(&p)
	c.validateHeaders(&p)
	validateStripHeaders(&p, c.StripHeaders)
	checkChoice(&p, "log.level", "level", c.Log.Level, "debug", "info", "warn", "error")
	checkChoice(&p, "log.format", "format", c.Log.Format, "json", "text")
	c.validateRoutes(&p)
	c.validateOIDC(&p)
	c.validateConsole(&p)
	c.validateTracing(&p)
	if c.ForwardAuth.Enabled && len(c.TrustedProxies) == 0 {
		p.add("forward_auth.enabled", "true, but trusted_proxies is empty, so every caller would get 403; list the ingress's addresses in trusted_proxies, or set enabled: false")
	}
	return p.err()
}

func (c *Config) validateServer(p *problems) {
	positive(p, "server.read_header_timeout", c.Server.ReadHeaderTimeout)
	positive(p, "server.idle_timeout", c.Server.IdleTimeout)
	positive(p, "server.upstream_timeout", c.Server.UpstreamTimeout)
	positive(p, "server.shutdown_timeout", c.Server.ShutdownTimeout)
	if c.Server.BodyTimeout < 0 {
		p.add("server.body_timeout", "%s is negative; write e.g. \"30s\", or 0 to turn the guard off", c.Server.BodyTimeout)
	}
	if c.Server.MaxHeaderBytes < 1 {
		p.add("server.max_header_bytes", "%d is not positive; write e.g. 32768", c.Server.MaxHeaderBytes)
	}
	switch t := c.Server.TLS; {
	case t.CertFile != "" && t.KeyFile == "":
		p.add("server.tls.key_file", "empty, but server.tls.cert_file is set; set both for HTTPS, or neither for plain HTTP")
	case t.CertFile == "" && t.KeyFile != "":
		p.add("server.tls.cert_file", "empty, but server.tls.key_file is set; set both for HTTPS, or neither for plain HTTP")
	}
}

func (c *Config) validateStore(p *problems) {
	s := c.Store
	checkChoice(p, "store.type", "type", s.Type, "memory", "redis")
	checkChoice(p, "store.on_error", "value", s.OnError, "deny", "allow") // the keys of onErrors
	positive(p, "store.timeout", s.Timeout)
	if s.Type != "redis" {
		return
	}
	if len(s.Redis.Addrs) == 0 {
		p.add("store.redis.addrs", "empty, but store.type is redis; list at least one host:port")
	}
	for i, a := range s.Redis.Addrs {
		checkHostPort(p, index("store.redis.addrs", i), a)
	}
	if s.Redis.CAFile != "" && !s.Redis.TLS {
		p.add("store.redis.ca_file", "is set, but store.redis.tls is false; set tls: true, or remove ca_file")
	}
	if s.Redis.DB < 0 {
		p.add("store.redis.db", "%d is negative", s.Redis.DB)
	}
	if s.Redis.DB != 0 && len(s.Redis.Addrs) > 1 && s.Redis.MasterName == "" {
		p.add("store.redis.db", "%d is set, but a Redis cluster (several addrs) has only database 0", s.Redis.DB)
	}
}

func (c *Config) validateSession(p *problems) {
	s := c.Session
	if !isToken(s.CookieName) {
		p.add("session.cookie_name", "%q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", s.CookieName)
	}
	if strings.HasPrefix(s.CookieName, "__Secure-") && !s.Secure {
		p.add("session.cookie_name", "%q needs session.secure: true", s.CookieName)
	}
	if strings.HasPrefix(s.CookieName, "__Host-") && (!s.Secure || s.Domain != "") {
		p.add("session.cookie_name", "%q needs session.secure: true and an empty session.domain", s.CookieName)
	}
	checkChoice(p, "session.same_site", "value", s.SameSite, "lax", "strict") // the keys of sameSites
	if strings.ContainsAny(s.Domain, " /:;,") {
		p.add("session.domain", "%q is not a domain name", s.Domain)
	}
	positive(p, "session.idle_timeout", s.IdleTimeout)
	positive(p, "session.absolute_timeout", s.AbsoluteTimeout)
	if s.IdleTimeout > s.AbsoluteTimeout && s.AbsoluteTimeout > 0 {
		p.add("session.idle_timeout", "%s is longer than session.absolute_timeout (%s)", s.IdleTimeout, s.AbsoluteTimeout)
	}
	if s.MaxPerUser < 1 {
		p.add("session.max_per_user", "%d: want a whole number of sessions, 1 or more", s.MaxPerUser)
	}
}

// reservedHeaders may not be used as identity headers: the proxy sets or
// needs them itself.
var reservedHeaders = map[string]bool{
	"host": true, "connection": true, "keep-alive": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true, "proxy-connection": true,
	"proxy-authorization": true, "authorization": true, "cookie": true, "set-cookie": true,
	"content-length": true, "content-type": true, "x-request-id": true,
	"x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true, "forwarded": true,
}

func (c *Config) validateHeaders(p *problems) {
	h := c.IdentityHeaders
	seen := map[string]string{}
	check := func(path, name string, required bool) {
		if name == "" {
			if required {
				p.add(path, "empty; name a header, e.g. X-Auth-User")
			}
			return
		}
		key := httpx.FoldHeader(name)
		switch {
		case !isToken(name):
			p.add(path, "%q is not a valid header name", name)
		case reservedHeaders[key]:
			p.add(path, "%q is reserved; choose another name, e.g. X-Auth-...", name)
		case seen[key] != "":
			p.add(path, "%q is also used by %s (header names are compared ignoring case and _ vs -)", name, seen[key])
		default:
			seen[key] = path
		}
	}
	check("identity_headers.user", h.User, true)
	check("identity_headers.email", h.Email, true)
	check("identity_headers.groups", h.Groups, true)
	check("identity_headers.method", h.Method, true)
	for _, name := range sortedKeys(h.Extra) {
		path := "identity_headers.extra." + name
		check(path, name, true)
		if strings.TrimSpace(h.Extra[name]) == "" {
			p.add(path, "empty claim path; name a claim, e.g. tenant")
		}
	}
	check("identity_headers.assertion", h.Assertion, false)
	if h.Assertion != "" && c.JWT.Issue.SigningKeyFile == "" {
		p.add("identity_headers.assertion", "is set, but jwt.issue.signing_key_file is empty; the assertion is signed with that key")
	}
}

// unstrippable are headers strip_headers may not name: Gatehouse needs them
// to frame or route the request, or sets them itself after stripping.
var unstrippable = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true, "te": true,
	"trailer": true, "upgrade": true, "x-request-id": true,
	"x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true,
}

func validateStripHeaders(p *problems, names []string) {
	for i, name := range names {
		path := index("strip_headers", i)
		switch {
		case !isToken(name):
			p.add(path, "%q is not a valid header name", name)
		case unstrippable[httpx.FoldHeader(name)]:
			p.add(path, "%q cannot be stripped: Gatehouse needs it to frame or forward the request, or sets it itself", name)
		}
	}
}

// checkHostPort reports an address that is not host:port with a numeric
// port (the host may be empty: all interfaces).
func checkHostPort(p *problems, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || strings.ContainsAny(host, " /") {
		p.add(path, "%q is not host:port; write e.g. \":8080\" or \"127.0.0.1:8080\"", addr)
	}
}

// checkUpstream reports a value that is not an absolute http(s) URL
// (parseUpstream's rule).
func checkUpstream(p *problems, path, raw string) {
	_, problem := parseUpstream(raw)
	if problem == "" {
		return
	}
	shown := raw
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		shown = u.Redacted() // never print a password
	}
	p.add(path, "%q %s", shown, problem)
}

// checkPrefix reports a value that is neither a CIDR nor a single IP
// (parsePrefix's rule).
func checkPrefix(p *problems, path, s string) {
	if _, ok := parsePrefix(s); !ok {
		p.add(path, "%q is not a CIDR or IP address; write e.g. \"10.0.0.0/8\" or \"192.168.1.10\"", s)
	}
}

func checkRate(p *problems, path, s string) {
	if _, _, err := ParseRate(s); err != nil {
		p.add(path, "%s", err.Error())
	}
}

// checkChoice reports a value that is not one of choices.
func checkChoice(p *problems, path, what, v string, choices ...string) {
	for _, c := range choices {
		if v == c {
			return
		}
	}
	p.add(path, "unknown %s %q (want %s)", what, v, oneOf(choices...))
}

func positive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "%s is not positive; write e.g. \"30s\", \"5m\"", d)
	}
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// isToken reports whether s is a non-empty RFC 9110 token: the grammar of
// header names, cookie names and methods (httpx.IsToken).
func isToken(s string) bool { return httpx.IsToken(s) }
