// Package config defines Gatehouse's configuration file: its types, their
// defaults, loading (YAML file, then GATEHOUSE_* environment overrides, strict)
// and validation. It reads the config file and the files the config names, and
// does no other I/O; it knows nothing of HTTP, Redis or JOSE libraries.
package config

import "time"

// Config is the whole configuration file. The zero value is not useful; use
// Default or Load.
type Config struct {
	Listen          string   `koanf:"listen"`
	Upstream        string   `koanf:"upstream"`
	TrustedProxies  []string `koanf:"trusted_proxies"`
	Server          Server   `koanf:"server"`
	Admin           Admin    `koanf:"admin"`
	Store           Store    `koanf:"store"`
	Users           Users    `koanf:"users"`
	Login           Login    `koanf:"login"`
	Session         Session  `koanf:"session"`
	JWT             JWT      `koanf:"jwt"`
	IdentityHeaders Headers  `koanf:"identity_headers"`
	// StripHeaders are removed from every client request before it goes
	// upstream, on every route (any letter case, "_" for "-").
	StripHeaders []string `koanf:"strip_headers"`
	Log          Log      `koanf:"log"`
	Routes       []Route  `koanf:"routes"`
	OIDC         OIDC     `koanf:"oidc"`
	Audit        Audit    `koanf:"audit"`
	// ForwardAuth turns on the forward-auth decision endpoints.
	ForwardAuth ForwardAuth `koanf:"forward_auth"`
	// Tracing exports OpenTelemetry spans; off unless OTLPEndpoint is set.
	Tracing Tracing `koanf:"tracing"`
}

// Tracing configures OpenTelemetry tracing (README "Tracing"). An empty
// OTLPEndpoint (the default) turns it off: no span is started and nothing
// is exported.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://otel-collector:4318; spans are posted to <endpoint>/v1/traces.
	OTLPEndpoint string `koanf:"otlp_endpoint"`
	// SampleRatio is the share of new traces sampled, 0 to 1; a client's
	// traceparent decides for the traces it continues (parent-based).
	SampleRatio float64 `koanf:"sample_ratio"`
	ServiceName string  `koanf:"service_name"` // the spans' service.name
	// User puts the authenticated user on the server span as enduser.id.
	// False (the default): no user in any span.
	User bool `koanf:"user"`
}

// ForwardAuth configures /.gatehouse/auth/auth-request (nginx) and
// /.gatehouse/auth/forward-auth (Traefik, Caddy), answered only for clients
// in trusted_proxies. Enabled false (the default): both are 404.
type ForwardAuth struct {
	Enabled bool `koanf:"enabled"`
}

// Log configures Gatehouse's own log on stdout.
type Log struct {
	Level  string `koanf:"level"`  // debug | info | warn | error
	Format string `koanf:"format"` // json | text
	Access bool   `koanf:"access"` // one access line per proxied request
}

// Server holds the proxy listener's timeouts and limits.
type Server struct {
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	UpstreamTimeout   time.Duration `koanf:"upstream_timeout"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout"`
	// BodyTimeout cuts a request body that sends nothing for this long
	// (slow-body guard); 0 turns the guard off.
	BodyTimeout time.Duration `koanf:"body_timeout"`
	TLS         ServerTLS     `koanf:"tls"`
}

// ServerTLS makes the proxy listener serve HTTPS (and HTTP/2) with the
// certificate chain and private key in these PEM files, re-read when they
// change. Both empty (the default): plain HTTP.
type ServerTLS struct {
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
}

// Enabled reports whether HTTPS is configured (both files are set).
func (t ServerTLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Admin is the admin listener: metrics, health and the admin API.
type Admin struct {
	Listen    string  `koanf:"listen"`
	TokenFile string  `koanf:"token_file"`
	Console   Console `koanf:"console"`
}

// Console is the admin web console at /.gatehouse/admin/ on the proxy
// listener. No groups: the console is off (404).
type Console struct {
	Groups   []string `koanf:"groups"`   // signed-in users in any of these may use it
	Networks []string `koanf:"networks"` // CIDRs its clients must come from; empty: any
}

// Audit configures the audit trail (the console's events, GET /admin/audit).
type Audit struct {
	MaxEvents int `koanf:"max_events"` // newest events kept
}

// Store selects where sessions, refresh tokens and revocations live.
type Store struct {
	Type    string        `koanf:"type"`     // memory | redis
	OnError string        `koanf:"on_error"` // deny | allow
	Timeout time.Duration `koanf:"timeout"`
	Redis   Redis         `koanf:"redis"`
}

// Redis configures the Redis store. One address is standalone, several a
// cluster, and a MasterName makes it Sentinel.
type Redis struct {
	Addrs        []string `koanf:"addrs"`
	MasterName   string   `koanf:"master_name"`
	Username     string   `koanf:"username"`
	PasswordFile string   `koanf:"password_file"`
	DB           int      `koanf:"db"`
	TLS          bool     `koanf:"tls"`
	CAFile       string   `koanf:"ca_file"` // PEM CA bundle for TLS; "": the system roots
	KeyPrefix    string   `koanf:"key_prefix"`
}

// Users names the files that hold the login users.
type Users struct {
	File         string `koanf:"file"`
	HtpasswdFile string `koanf:"htpasswd_file"`
}

// Login configures the login page and its rate limits.
type Login struct {
	Title        string `koanf:"title"`
	Rate         string `koanf:"rate"`          // N/s, N/min or N/h
	ClientRate   string `koanf:"client_rate"`   // N/s, N/min or N/h
	LogoURL      string `koanf:"logo_url"`      // https URL or local path; "" for none
	TemplatesDir string `koanf:"templates_dir"` // overrides of login.html, logout.html, error.html
	// AutoRedirect sends the login page straight to the identity provider
	// when there is exactly one (oidc.providers) and no local users.
	AutoRedirect bool `koanf:"auto_redirect"`
}

// Session configures the browser session cookie and its lifetime.
type Session struct {
	CookieName      string        `koanf:"cookie_name"`
	Secure          bool          `koanf:"secure"`
	SameSite        string        `koanf:"same_site"` // lax | strict
	Domain          string        `koanf:"domain"`
	IdleTimeout     time.Duration `koanf:"idle_timeout"`
	AbsoluteTimeout time.Duration `koanf:"absolute_timeout"`
	MaxPerUser      int           `koanf:"max_per_user"` // a login beyond it ends that user's oldest session
}

// JWT configures the token issuers Gatehouse trusts and the one it is.
type JWT struct {
	Leeway  time.Duration `koanf:"leeway"`
	Issuers []Issuer      `koanf:"issuers"`
	Issue   Issue         `koanf:"issue"`
	// MaxLifetime refuses Bearer tokens whose exp is more than this after
	// their iat (or after now without iat); 0: no limit.
	MaxLifetime time.Duration `koanf:"max_lifetime"`
}

// Issuer is one trusted token issuer. Exactly one of JWKSURL,
// PublicKeyFiles and HMACSecretFile names its keys.
type Issuer struct {
	Issuer         string            `koanf:"issuer"`
	Audiences      []string          `koanf:"audiences"`
	Algorithms     []string          `koanf:"algorithms"`
	JWKSURL        string            `koanf:"jwks_url"`
	PublicKeyFiles []string          `koanf:"public_key_files"`
	HMACSecretFile string            `koanf:"hmac_secret_file"`
	Claims         map[string]string `koanf:"claims"` // user, email, groups → claim path
}

// Issue configures the tokens Gatehouse signs itself.
type Issue struct {
	Issuer           string        `koanf:"issuer"`
	Audience         string        `koanf:"audience"`
	SigningKeyFile   string        `koanf:"signing_key_file"`
	PreviousKeyFiles []string      `koanf:"previous_key_files"`
	AccessTTL        time.Duration `koanf:"access_ttl"`
	RefreshTTL       time.Duration `koanf:"refresh_ttl"`

	// RefreshMaxLifetime: a refresh family older than this (since its
	// password grant) cannot refresh; ≥ RefreshTTL.
	RefreshMaxLifetime time.Duration `koanf:"refresh_max_lifetime"`
}

// Headers names the identity headers sent upstream.
type Headers struct {
	User      string            `koanf:"user"`
	Email     string            `koanf:"email"`
	Groups    string            `koanf:"groups"`
	Method    string            `koanf:"method"`
	Extra     map[string]string `koanf:"extra"` // header name → claim path
	Assertion string            `koanf:"assertion"`
}

// Route is one entry of the routing table; the first match wins.
type Route struct {
	Name                 string  `koanf:"name"`
	Match                Match   `koanf:"match"`
	Auth                 string  `koanf:"auth"` // none | session | jwt | any
	Require              Require `koanf:"require"`
	Upstream             string  `koanf:"upstream"`
	ForwardAuthorization bool    `koanf:"forward_authorization"`
}

// Match selects the requests a route applies to. Path and PathPrefix are
// mutually exclusive; empty Methods means every method, empty Host every host.
type Match struct {
	Path       string   `koanf:"path"`
	PathPrefix string   `koanf:"path_prefix"`
	Methods    []string `koanf:"methods"`
	Host       string   `koanf:"host"`
}

// Require is the authorization a route asks of an authenticated caller:
// any of Groups, all of Scopes, all of Claims.
type Require struct {
	Groups []string          `koanf:"groups"`
	Scopes []string          `koanf:"scopes"`
	Claims map[string]string `koanf:"claims"`
}

// Default returns the configuration every file is layered onto: the values
// documented in the contract, chosen to be safe.
func Default() Config {
	return Config{
		Listen:   ":8080",
		Upstream: "http://127.0.0.1:3000",
		Server: Server{
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32768,
			UpstreamTimeout:   60 * time.Second,
			ShutdownTimeout:   30 * time.Second,
			BodyTimeout:       30 * time.Second,
		},
		Admin: Admin{Listen: "127.0.0.1:9090"},
		Audit: Audit{MaxEvents: 10000},
		Store: Store{
			Type:    "memory",
			OnError: "deny",
			Timeout: 250 * time.Millisecond,
			Redis: Redis{
				Addrs:     []string{"127.0.0.1:6379"},
				KeyPrefix: "gatehouse:",
			},
		},
		Login: Login{Title: "Sign in", Rate: "5/min", ClientRate: "30/min"},
		Session: Session{
			CookieName:      "gatehouse_session",
			Secure:          true,
			SameSite:        "lax",
			IdleTimeout:     30 * time.Minute,
			AbsoluteTimeout: 12 * time.Hour,
			MaxPerUser:      100,
		},
		JWT: JWT{
			Leeway: 30 * time.Second,
			Issue: Issue{
				Issuer:     "http://localhost:8080",
				Audience:   "gatehouse",
				AccessTTL:  5 * time.Minute,
				RefreshTTL: 720 * time.Hour,

				RefreshMaxLifetime: 2160 * time.Hour,
			},
		},
		IdentityHeaders: Headers{
			User:   "X-Auth-User",
			Email:  "X-Auth-Email",
			Groups: "X-Auth-Groups",
			Method: "X-Auth-Method",
		},
		StripHeaders: DefaultStripHeaders(),
		Log:          Log{Level: "info", Format: "json", Access: true},
		Tracing:      Tracing{SampleRatio: 0.1, ServiceName: "gatehouse"},
	}
}

// DefaultStripHeaders is strip_headers' default: request headers that some
// upstream frameworks believe (method and URL overrides, client IPs, remote
// users) and that no client should be able to set.
func DefaultStripHeaders() []string {
	return []string{
		"X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X-Original-URL",
		"X-Rewrite-URL", "X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "Remote-User", "X-Forwarded-User",
	}
}
