package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Paths of the endpoints under /.gatehouse/ (PRODUCT.md §9).
const (
	StartPath       = "/.gatehouse/oidc/start"
	CallbackPath    = "/.gatehouse/oidc/callback"
	BackchannelPath = "/.gatehouse/oidc/backchannel-logout"
)

// Back-off of discovery: first retry after minBackoff, doubling up to
// maxBackoff (§9: up to 30 s).
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Options are what every provider shares.
type Options struct {
	// Store keeps sign-ins in progress and the replay sets (state, logout
	// token jti). Must not be nil.
	Store auth.Store
	// HTTPClient talks to the IdP; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// OnUp is told each provider's discovery state (the
	// gatehouse_oidc_provider_up gauge); it is called with false at New.
	OnUp func(provider string, up bool)
	// Logger receives discovery failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Provider is one configured OpenID Provider. It is safe for concurrent
// use; until discovery succeeds, Ready is false and the flow's methods
// fail with KindNotReady.
type Provider struct {
	cfg Config
	o   Options

	mu       sync.RWMutex
	p        *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	logout   *gooidc.IDTokenVerifier // same keys and checks, for logout tokens
	meta     metadata
}

// metadata is what Gatehouse reads from the discovery document beyond
// go-oidc's fields.
type metadata struct {
	EndSession      string   `json:"end_session_endpoint"`
	ScopesSupported []string `json:"scopes_supported"`
}

// New returns the provider; Run discovers it.
func New(cfg Config, o Options) *Provider {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnUp == nil {
		o.OnUp = func(string, bool) {}
	}
	p := &Provider{cfg: cfg.withDefaults(), o: o}
	o.OnUp(cfg.Name, false)
	return p
}

// Name is the provider's name; Title its button's text.
func (p *Provider) Name() string  { return p.cfg.Name }
func (p *Provider) Title() string { return p.cfg.Title }

// Config returns the provider's configuration with defaults filled in.
func (p *Provider) Config() Config { return p.cfg }

// Ready reports whether discovery has succeeded.
func (p *Provider) Ready() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.p != nil
}

// Run discovers the provider, retrying with back-off (up to 30 s between
// tries) until it succeeds or ctx ends. The keys are then fetched by
// go-oidc as tokens need them, with ctx's lifetime.
func (p *Provider) Run(ctx context.Context) {
	wait := minBackoff
	for {
		if err := p.discover(ctx); err == nil {
			p.o.OnUp(p.cfg.Name, true)
			return
		} else {
			p.o.Logger.Warn("oidc discovery failed; retrying", "provider", p.cfg.Name, "issuer", p.cfg.Issuer, "retry_in", wait.String(), "error", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, maxBackoff)
	}
}

func (p *Provider) discover(ctx context.Context) error {
	cctx := gooidc.ClientContext(ctx, p.o.HTTPClient)
	dctx, cancel := context.WithTimeout(cctx, 15*time.Second)
	defer cancel()
	// go-oidc keeps the context it is given for fetching keys later: the
	// long-lived one, with the HTTP client; discovery itself is bounded.
	prov, err := gooidc.NewProvider(dctx, p.cfg.Issuer)
	if err != nil {
		return err
	}
	var meta metadata
	if err := prov.Claims(&meta); err != nil {
		return err
	}
	var raw struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := prov.Claims(&raw); err != nil || raw.JWKS == "" {
		return errMissingJWKS
	}
	keys := gooidc.NewRemoteKeySet(cctx, raw.JWKS)
	now := func() time.Time { return p.o.Now().Add(-p.cfg.Leeway) } // exp with leeway
	vcfg := &gooidc.Config{ClientID: p.cfg.ClientID, SupportedSigningAlgs: SigningAlgs, Now: now}
	p.mu.Lock()
	p.p, p.meta = prov, meta
	p.verifier = gooidc.NewVerifier(p.cfg.Issuer, keys, vcfg)
	p.logout = gooidc.NewVerifier(p.cfg.Issuer, keys, vcfg)
	p.mu.Unlock()
	return nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errMissingJWKS = constError("discovery document has no jwks_uri")

// state returns the discovered parts, or a KindNotReady error.
func (p *Provider) state() (*gooidc.Provider, *gooidc.IDTokenVerifier, metadata, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.p == nil {
		return nil, nil, metadata{}, &Error{Kind: KindNotReady, Description: "the identity provider " + p.cfg.Name + " is not reachable yet"}
	}
	return p.p, p.verifier, p.meta, nil
}

// oauth2Config is the client of the flow with this redirect URL.
func (p *Provider) oauth2Config(prov *gooidc.Provider, meta metadata, redirectURL string) *oauth2.Config {
	scopes := slices.Clone(p.cfg.Scopes)
	if p.cfg.Revalidate > 0 && slices.Contains(meta.ScopesSupported, "offline_access") && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: prov.Endpoint(), RedirectURL: redirectURL, Scopes: scopes,
	}
}
