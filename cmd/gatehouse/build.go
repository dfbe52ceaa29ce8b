package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/login"
	"github.com/gatehouse-proxy/gatehouse/proxy/oidclogin"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// generation is everything one config builds. A reload builds a new one and
// swaps it in whole; requests already running keep the one they started on.
type generation struct {
	cfg      *config.Config
	proxy    http.Handler
	verifier *jwtauth.Verifier // nil without issuers
	signer   *jwtauth.Signer   // nil without jwt.issue.signing_key_file
	sessions *session.Manager
	decider  *proxy.Decider     // the proxy's decision, for userinfo
	pages    *pages.Set         // login, logout and error pages
	users    localUsers         // the users files as they are now; empty without them
	cancel   context.CancelFunc // stops the generation's background work
}

// newStore opens the configured store. The Redis store does not need Redis
// to be up: Gatehouse starts anyway and /readyz says so. called, if not
// nil, hears of every Redis command's outcome; tp, if not nil, traces them.
func newStore(cfg *config.Config, mat *material, m *metrics.Metrics, log *slog.Logger, called func(op string, err error), tp trace.TracerProvider) (auth.Store, error) {
	if cfg.Store.Type != "redis" {
		return memstore.New(nil), nil
	}
	// go-redis reports dial failures through a process-wide logger; send
	// them to the JSON log instead of raw stderr lines.
	redis.SetLogger(redisLogger{log})
	r := cfg.Store.Redis
	o := redisstore.Options{
		Addrs: r.Addrs, MasterName: r.MasterName, Username: r.Username, Password: mat.redisPassword,
		DB: r.DB, TLS: r.TLS, RootCAs: mat.redisCAs,
		KeyPrefix: r.KeyPrefix, Timeout: cfg.Store.Timeout, Observe: m.ObserveStore, Logger: log,
		TracerProvider: tp,
	}
	if called != nil {
		o.Observe = func(op string, d time.Duration, err error) { m.ObserveStore(op, d, err); called(op, err) }
	}
	s, err := redisstore.New(o)
	if err != nil {
		return nil, fmt.Errorf("store.redis: %w", err)
	}
	return s, nil
}

// redisLogger adapts slog to go-redis's logger interface.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// build assembles one generation from a loaded config.
func (s *server) build(cfg *config.Config, mat *material) (*generation, error) {
	ctx, cancel := context.WithCancel(context.Background())
	g := &generation{cfg: cfg, signer: mat.signer, pages: mat.pages, cancel: cancel}
	s.setAuditMax(cfg.Audit.MaxEvents)
	fail := func(err error) (*generation, error) { cancel(); return nil, err }
	if len(mat.issuers) > 0 {
		v, err := jwtauth.NewVerifier(jwtauth.Options{
			Issuers: mat.issuers, Leeway: cfg.JWT.Leeway, Revocations: s.store,
			OnJWKSRefresh: s.m.ObserveJWKSRefresh, Logger: s.log,
			MaxLifetime: cfg.JWT.MaxLifetime, KeepClaims: claimPaths(cfg),
			HTTPClient: s.tracedClient("jwks"),
		})
		if err != nil {
			return fail(fmt.Errorf("jwt.issuers: %w", err))
		}
		go v.Run(ctx)
		g.verifier = v
	}
	var endedUsers []string
	var err error
	if g.users, endedUsers, err = s.localUsers(ctx, cfg); err != nil {
		return fail(err)
	}
	if g.sessions, err = session.New(session.Options{
		Store: s.store, Revocations: s.store, Users: g.users,
		CookieName: cfg.Session.CookieName, Secure: cfg.Session.Secure,
		SameSite: sameSite(cfg.Session.SameSiteMode()), Domain: cfg.Session.Domain,
		Idle: cfg.Session.IdleTimeout, Absolute: cfg.Session.AbsoluteTimeout,
		MaxPerUser: cfg.Session.MaxPerUser,
		ClientIP:   httpx.ClientIP, Logger: s.log,
	}); err != nil {
		return fail(fmt.Errorf("session: %w", err))
	}
	do := proxy.DeciderOptions{Sessions: g.sessions, AllowOnStoreError: cfg.Store.ErrorPolicy() == config.OnErrorAllow}
	if g.verifier != nil {
		do.Bearer = g.verifier // only when set: a nil *Verifier in the interface would not be nil
	}
	g.decider = proxy.NewDecider(do)
	reserved, err := s.reserved(ctx, cfg, g)
	if err != nil {
		return fail(err)
	}
	po := proxy.Options{
		Routes: proxyRoutes(cfg), Upstream: cfg.UpstreamURL(), TrustedProxies: cfg.TrustedPrefixes(),
		Headers: proxy.Headers{
			User: cfg.IdentityHeaders.User, Email: cfg.IdentityHeaders.Email, Groups: cfg.IdentityHeaders.Groups,
			Method: cfg.IdentityHeaders.Method, Extra: cfg.IdentityHeaders.Extra, Assertion: cfg.IdentityHeaders.Assertion,
		},
		Sessions: g.sessions, Reserved: reserved,
		AllowOnStoreError: do.AllowOnStoreError, UpstreamTimeout: cfg.Server.UpstreamTimeout,
		Transport: s.tracedTransport(s.upstreamTransport(cfg.Server.UpstreamTimeout)),
		Metrics:   s.m, Logger: s.log, NoAccessLog: !cfg.Log.Access,
		Traced: s.tracer != nil, TraceUser: cfg.Tracing.User,
	}
	po.BodyTimeout, po.StripHeaders = cfg.Server.BodyTimeout, cfg.StripHeaders
	po.ForwardAuth = cfg.ForwardAuth.Enabled
	po.ProtectedCookies = []string{cfg.Session.CookieName, login.CSRFCookieName, login.CSRFCookieNameSecure,
		oidclogin.CookieName, oidclogin.CookieNameSecure}
	if g.verifier != nil {
		po.Bearer = g.verifier
	}
	if po.Assertions, err = assertions(cfg, g); err != nil {
		return fail(err)
	}
	po.ErrorPages = g.pages.WriteError // browser navigations get HTML error pages
	h, err := proxy.New(po)
	if err != nil {
		return fail(err)
	}
	g.proxy = s.traced(h)  // the server span wraps the whole request (none when tracing is off)
	s.endUsers(endedUsers) // last: a config that fails to build ends nobody
	return g, nil
}

// claimPaths lists the claim paths the config reads beyond each issuer's
// claim mapping (routes' require.claims, identity_headers.extra): all the
// verifier keeps of a token's claims. Never nil.
func claimPaths(cfg *config.Config) []string {
	paths := []string{}
	for _, r := range cfg.Routes {
		for p := range r.Require.Claims {
			paths = append(paths, p)
		}
	}
	for _, p := range cfg.IdentityHeaders.Extra {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// upstreamTransport returns the upstream connection pool. Every
// generation shares it, so a reload keeps the warm connections; only a
// change of server.upstream_timeout builds a new one (the old pool's idle
// connections are closed; requests still using it finish).
func (s *server) upstreamTransport(timeout time.Duration) *http.Transport {
	s.transportMu.Lock()
	defer s.transportMu.Unlock()
	if s.transport != nil && s.transportTO == timeout {
		return s.transport
	}
	if s.transport != nil {
		old := s.transport
		defer old.CloseIdleConnections()
	}
	s.transport, s.transportTO = proxy.NewTransport(timeout), timeout
	return s.transport
}

// reserved builds the /.gatehouse/ handler: login, logout and userinfo.
// Without users files nobody can log in, but userinfo still answers Bearer
// callers.
func (s *server) reserved(ctx context.Context, cfg *config.Config, g *generation) (http.Handler, error) {
	var who passwords.Checker = g.users
	limiter, err := s.loginLimiter(cfg)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	mux := http.NewServeMux()
	ext, err := s.oidcLogin(ctx, cfg, g)
	if err != nil {
		return nil, err
	}
	if ext != nil {
		mux.Handle(proxy.ReservedPrefix+"oidc/", ext)
	}
	lo := login.Options{
		Sessions: g.sessions, Users: who, Limiter: limiter, Pages: g.pages, Secure: cfg.Session.Secure,
		Decider: g.decider, Metrics: s.m, Logger: s.log, Audit: s.auditor(),
	}
	withOIDC(&lo, cfg, ext)
	lh, err := login.New(lo)
	if err != nil {
		return nil, err
	}
	mux.Handle(proxy.ReservedPrefix, lh)
	if err := s.mountTokens(mux, cfg, g, who, limiter); err != nil {
		return nil, err
	}
	if err := s.mountConsole(mux, cfg, g); err != nil {
		return nil, err
	}
	return mux, nil
}

// loginLimiter counts login attempts in the store (shared by replicas on
// Redis; while Redis fails, each replica counts on its own) and bounds
// concurrent password checks.
func (s *server) loginLimiter(cfg *config.Config) (*passwords.Limiter, error) {
	o := passwords.LimiterOptions{Logger: s.log}
	o.Rate, o.ClientRate = cfg.Login.Rates()
	o.Counts, _ = s.store.(auth.LoginAttempts)
	if _, local := s.store.(*memstore.Store); !local {
		o.Fallback = memstore.NewAttempts(nil)
	}
	if o.Counts == nil {
		o.Counts, o.Fallback = o.Fallback, nil
	}
	return passwords.NewLimiter(o)
}

// proxyRoutes maps the routes onto the proxy's; config has parsed their
// values (upstream, auth mode).
func proxyRoutes(cfg *config.Config) []proxy.Route {
	var out []proxy.Route
	for _, r := range cfg.Routes {
		out = append(out, proxy.Route{
			Name: r.Name, Path: r.Match.Path, PathPrefix: r.Match.PathPrefix, Methods: r.Match.Methods,
			Host: r.Match.Host, Auth: string(r.Mode()), ForwardAuthorization: r.ForwardAuthorization,
			Require:  proxy.Require{Groups: r.Require.Groups, Scopes: r.Require.Scopes, Claims: r.Require.Claims},
			Upstream: r.UpstreamURL(),
		})
	}
	return out
}

// sameSite maps session.same_site onto the cookie attribute.
func sameSite(m config.SameSite) http.SameSite {
	if m == config.SameSiteStrict {
		return http.SameSiteStrictMode
	}
	return http.SameSiteLaxMode
}
