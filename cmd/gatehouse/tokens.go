package main

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/auth/assertion"
	"github.com/gatehouse-proxy/gatehouse/auth/refresh"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
	"github.com/gatehouse-proxy/gatehouse/proxy/tokens"
)

// mountTokens adds the token, revoke and JWKS endpoints of this generation
// to mux, when Gatehouse has an issuing key. They are per generation: a
// reload that changes the keys serves the new JWKS and signs with the new
// key from the swap on.
func (s *server) mountTokens(mux *http.ServeMux, cfg *config.Config, g *generation, who passwords.Checker, limiter *passwords.Limiter) error {
	if g.signer == nil {
		return nil
	}
	is := cfg.JWT.Issue
	svc, err := refresh.New(refresh.Options{
		Store: s.store, Signer: g.signer, Issuer: is.Issuer, Audience: is.Audience,
		AccessTTL: is.AccessTTL, RefreshTTL: is.RefreshTTL,
		MaxLifetime: is.RefreshMaxLifetime, Users: g.users,
		OnFamilyRevoked: func() { s.m.Revocations.WithLabelValues("family").Inc() },
		Logger:          s.log,
		Audit:           s.auditor(),
	})
	if err != nil {
		return fmt.Errorf("jwt.issue: %w", err)
	}
	h, err := tokens.New(tokens.Options{
		Service: svc, Keys: g.signer.PublicKeys(), Users: who, Limiter: limiter, Metrics: s.m, Logger: s.log,
		Audit: s.auditor(),
	})
	if err != nil {
		return fmt.Errorf("jwt.issue: %w", err)
	}
	for _, p := range []string{tokens.TokenPath, tokens.RevokePath, tokens.JWKSPath} {
		mux.Handle(p, h)
	}
	return nil
}

// assertions returns the identity-assertion signer when
// identity_headers.assertion is set and Gatehouse has an issuing key; nil
// otherwise (no assertion header).
func assertions(cfg *config.Config, g *generation) (proxy.AssertionSigner, error) {
	if cfg.IdentityHeaders.Assertion == "" || g.signer == nil {
		return nil, nil
	}
	a, err := assertion.NewSigner(assertion.SignerOptions{Key: g.signer, Issuer: cfg.JWT.Issue.Issuer})
	if err != nil {
		return nil, fmt.Errorf("identity_headers.assertion: %w", err)
	}
	return a, nil
}
