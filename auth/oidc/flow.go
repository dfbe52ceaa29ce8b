package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
)

// PreAuthTTL is how long a sign-in may take: the pre-auth cookie's and the
// stored state's lifetime (§9: 10 minutes).
const PreAuthTTL = 10 * time.Minute

// preAuthKind names pre-auth records' store keys (session.KeyFor).
const preAuthKind = "oidc-state"

// Begun is a sign-in just started: send the browser to URL with a
// pre-auth cookie holding State.
type Begun struct {
	URL   string
	State string
}

// Begin starts a sign-in: a new state, nonce and PKCE verifier, kept in
// the store under the state for PreAuthTTL with rd (already checked to be
// local) and the redirect URL; the answer is the authorization URL.
func (p *Provider) Begin(ctx context.Context, rd, redirectURL string) (Begun, error) {
	prov, _, meta, err := p.state()
	if err != nil {
		return Begun{}, err
	}
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	now := p.o.Now()
	rec := auth.SessionRecord{
		Key: session.KeyFor(preAuthKind, state), User: "oidc-preauth:" + p.cfg.Name,
		Created: now, LastSeen: now, Provider: p.cfg.Name,
		Extra: map[string]string{"nonce": nonce, "verifier": verifier, "rd": rd, "redirect_url": redirectURL},
	}
	if err := p.o.Store.CreateSession(ctx, rec, PreAuthTTL, 0); err != nil {
		return Begun{}, &Error{Kind: KindUnavailable, Description: "session store unavailable", Cause: err}
	}
	oc := p.oauth2Config(prov, meta, redirectURL)
	u := oc.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	if slices.Contains(oc.Scopes, "offline_access") {
		// Some IdPs (oidc-provider among them) grant offline_access only
		// with consent.
		u += "&prompt=consent"
	}
	return Begun{URL: u, State: state}, nil
}

// PreAuth is a sign-in in progress, taken from the store by its state.
type PreAuth struct {
	Provider    string
	Nonce       string
	Verifier    string
	Redirect    string // rd
	RedirectURL string // the redirect_uri sent
}

// TakePreAuth checks the callback's state against the pre-auth cookie's
// and takes the sign-in from the store: once only (the record is deleted,
// and only the caller whose delete removed it gets it). Any mismatch, a
// missing, expired or already used state is KindInvalid.
func TakePreAuth(ctx context.Context, store auth.SessionStore, cookieState, queryState string) (PreAuth, error) {
	switch {
	case cookieState == "":
		return PreAuth{}, invalid("the sign-in cookie is missing or expired; start again", nil)
	case queryState == "":
		return PreAuth{}, invalid("the answer from the identity provider has no state", nil)
	case subtle.ConstantTimeCompare([]byte(cookieState), []byte(queryState)) != 1:
		return PreAuth{}, invalid("the sign-in state does not match this browser's", nil)
	}
	key := session.KeyFor(preAuthKind, queryState)
	rec, err := store.TouchSession(ctx, key, PreAuthTTL)
	if errors.Is(err, auth.ErrNotFound) {
		return PreAuth{}, invalid("this sign-in expired or was already used", nil)
	}
	if err != nil {
		return PreAuth{}, &Error{Kind: KindUnavailable, Description: "session store unavailable", Cause: err}
	}
	gone, err := store.DeleteSession(ctx, key)
	if err != nil {
		return PreAuth{}, &Error{Kind: KindUnavailable, Description: "session store unavailable", Cause: err}
	}
	if !gone { // another request took it between the read and the delete
		return PreAuth{}, invalid("this sign-in expired or was already used", nil)
	}
	if time.Since(rec.Created) > PreAuthTTL+time.Minute {
		return PreAuth{}, invalid("this sign-in expired or was already used", nil)
	}
	x := rec.Extra
	return PreAuth{Provider: rec.Provider, Nonce: x["nonce"], Verifier: x["verifier"], Redirect: x["rd"], RedirectURL: x["redirect_url"]}, nil
}

// SignedIn is a verified sign-in: the mapped identity and the IdP's tokens.
type SignedIn struct {
	session.External
	Claims map[string]any // the ID token's claims, completed from userinfo
}

// Finish exchanges the code (with the PKCE verifier), verifies the ID
// token, maps its claims (completed from the userinfo endpoint for mapped
// claims it lacks) and checks allowed_groups.
func (p *Provider) Finish(ctx context.Context, pa PreAuth, code string) (SignedIn, error) {
	prov, verifier, meta, err := p.state()
	if err != nil {
		return SignedIn{}, err
	}
	if code == "" {
		return SignedIn{}, invalid("the answer from the identity provider has no code", nil)
	}
	ctx = gooidc.ClientContext(ctx, p.o.HTTPClient)
	oc := p.oauth2Config(prov, meta, pa.RedirectURL)
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(pa.Verifier))
	if err != nil {
		return SignedIn{}, &Error{Kind: KindUpstream, Description: "the identity provider refused or failed the code exchange", Cause: err}
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return SignedIn{}, &Error{Kind: KindUpstream, Description: "the identity provider sent no ID token", Cause: nil}
	}
	idt, claims, err := p.verifyID(ctx, verifier, rawID, pa.Nonce)
	if err != nil {
		return SignedIn{}, err
	}
	if p.missing(claims) {
		if ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			var more map[string]any
			if ui.Claims(&more) == nil {
				for k, v := range more {
					if _, ok := claims[k]; !ok {
						claims[k] = v
					}
				}
			}
		}
	}
	ext, err := p.mapClaims(idt.Subject, claims)
	if err != nil {
		return SignedIn{}, err
	}
	ext.IDToken, ext.RefreshToken = rawID, tok.RefreshToken
	return SignedIn{External: ext, Claims: claims}, nil
}

// verifyID checks the ID token: signature with the IdP's keys and an
// allowed algorithm, iss, aud, exp (go-oidc), then azp, iat and nonce.
func (p *Provider) verifyID(ctx context.Context, v *gooidc.IDTokenVerifier, raw, nonce string) (*gooidc.IDToken, map[string]any, error) {
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, nil, invalid("the ID token failed verification", err)
	}
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		return nil, nil, invalid("the ID token failed verification", err)
	}
	azp, hasAzp := c["azp"].(string)
	if (hasAzp && azp != p.cfg.ClientID) || (len(idt.Audience) > 1 && !hasAzp) {
		return nil, nil, invalid("the ID token failed verification", fmt.Errorf("azp %q is not the client", azp))
	}
	if idt.IssuedAt.IsZero() || idt.IssuedAt.After(p.o.Now().Add(p.cfg.Leeway)) {
		return nil, nil, invalid("the ID token failed verification", fmt.Errorf("iat missing or in the future"))
	}
	if nonce != noNonce && (nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1) {
		return nil, nil, invalid("the ID token failed verification", fmt.Errorf("nonce mismatch"))
	}
	if idt.Subject == "" {
		return nil, nil, invalid("the ID token failed verification", fmt.Errorf("no sub"))
	}
	return idt, c, nil
}

// noNonce, as verifyID's nonce, skips the nonce check: an ID token from a
// refresh has none to match.
const noNonce = "\x00no nonce"

// missing reports whether a mapped claim is absent.
func (p *Provider) missing(c map[string]any) bool {
	for _, path := range []string{p.cfg.Claims.User, p.cfg.Claims.Email, p.cfg.Claims.Groups} {
		if _, ok := auth.LookupClaim(c, path); !ok {
			return true
		}
	}
	return false
}

// mapClaims maps the claims to the session's identity and applies
// allowed_groups.
func (p *Provider) mapClaims(sub string, c map[string]any) (session.External, error) {
	user, _ := lookupString(c, p.cfg.Claims.User)
	if user == "" {
		return session.External{}, invalid("the identity provider sent no user name (claim "+p.cfg.Claims.User+")", nil)
	}
	email, _ := lookupString(c, p.cfg.Claims.Email)
	var groups []string
	if v, ok := auth.LookupClaim(c, p.cfg.Claims.Groups); ok {
		switch g := v.(type) {
		case string:
			groups = []string{g}
		case []any:
			for _, x := range g {
				if s, ok := x.(string); ok && s != "" {
					groups = append(groups, s)
				}
			}
		}
	}
	if len(p.cfg.AllowedGroups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(p.cfg.AllowedGroups, g) }) {
		return session.External{}, &Error{Kind: KindDenied, Description: "your account at the identity provider is not in a group allowed here"}
	}
	sid, _ := c["sid"].(string)
	return session.External{User: user, Email: email, Groups: groups, Provider: p.cfg.Name, Subject: sub, SID: sid}, nil
}

func lookupString(c map[string]any, path string) (string, bool) {
	v, ok := auth.LookupClaim(c, path)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
