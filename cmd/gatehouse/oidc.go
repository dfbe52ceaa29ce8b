package main

import (
	"context"
	"fmt"

	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy/login"
	"github.com/gatehouse-proxy/gatehouse/proxy/oidclogin"
)

// oidcLogin builds the OIDC providers of oidc.providers, starts their
// discovery (retried in the background until ctx, the generation's, ends)
// and returns the /.gatehouse/oidc/ handler; nil without providers. The
// providers' gauges read 0 until discovery succeeds.
func (s *server) oidcLogin(ctx context.Context, cfg *config.Config, g *generation) (*oidclogin.Handler, error) {
	if len(cfg.OIDC.Providers) == 0 {
		return nil, nil
	}
	var provs []*oidc.Provider
	for i, op := range cfg.OIDC.Providers {
		var secret string
		if op.ClientSecretFile != "" {
			b, err := config.ReadSecretFile(op.ClientSecretFile)
			if err != nil {
				return nil, fmt.Errorf("oidc.providers[%d].client_secret_file: %w", i, err)
			}
			secret = string(b)
		}
		cl := op.ClaimsOrDefault()
		p := oidc.New(oidc.Config{
			Name: op.Name, Title: op.Title, Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: secret,
			Scopes: op.Scopes, RedirectURL: op.RedirectURL,
			Claims:        oidc.Claims{User: cl.User, Email: cl.Email, Groups: cl.Groups},
			AllowedGroups: op.AllowedGroups, Revalidate: op.RevalidateEvery(), EndSession: op.EndsSession(),
			Leeway: cfg.JWT.Leeway,
		}, oidc.Options{Store: s.store, OnUp: s.m.OIDC.SetProviderUp, Logger: s.log,
			HTTPClient: s.tracedClient("idp")})
		go p.Run(ctx)
		provs = append(provs, p)
	}
	g.sessions.SetRevalidator(oidc.NewRevalidator(provs, oidc.RevalidatorOptions{
		Store: s.store, Idle: cfg.Session.IdleTimeout, Logger: s.log,
		OnResult: func(p, r string) { s.m.OIDC.Refreshes.WithLabelValues(p, r).Inc() },
	}))
	return oidclogin.New(oidclogin.Options{
		Providers: provs, Sessions: g.sessions, Store: s.store, Pages: g.pages,
		Secure: cfg.Session.Secure, Metrics: s.m.OIDC, Logger: s.log, Audit: s.auditor(),
	}), nil
}

// withOIDC adds the providers' buttons, RP-initiated logout and
// auto_redirect to the login handler's options.
func withOIDC(lo *login.Options, cfg *config.Config, h *oidclogin.Handler) {
	if h == nil {
		return
	}
	lo.External = h
	lo.NoPassword = cfg.Users.File == "" && cfg.Users.HtpasswdFile == ""
	lo.AutoRedirect = cfg.Login.AutoRedirect
}

// oidcFormActions are the issuers of providers with end_session: the
// logout form's POST is redirected to their end-session endpoint, which
// the pages' CSP form-action must allow (IdPs serve it on the issuer's
// origin).
func oidcFormActions(cfg *config.Config) []string {
	var out []string
	for _, p := range cfg.OIDC.Providers {
		if p.EndsSession() {
			out = append(out, p.Issuer)
		}
	}
	return out
}
