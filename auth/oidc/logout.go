package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// LogoutClaims is a verified back-channel logout token.
type LogoutClaims struct {
	Provider string
	Subject  string // "" when the token names the sid alone
	SID      string // "" when the token names the sub alone
	JTI      string
	Expiry   time.Time
}

// VerifyLogout verifies a back-channel logout token (OpenID Back-Channel
// Logout 1.0): signature with the provider's keys and an allowed
// algorithm, iss, aud = client_id, exp (with leeway), iat within leeway,
// the back-channel logout event, no nonce, sid or sub, a jti; then it
// records the jti (refusing one seen before) in the store's revocation
// set under a name of its own.
func (p *Provider) VerifyLogout(ctx context.Context, raw string) (LogoutClaims, error) {
	p.mu.RLock()
	v := p.logout
	p.mu.RUnlock()
	if v == nil {
		return LogoutClaims{}, &Error{Kind: KindNotReady, Description: "the identity provider is not discovered yet"}
	}
	lt, err := v.VerifyLogout(ctx, raw)
	if err != nil {
		return LogoutClaims{}, invalid("the logout token failed verification", err)
	}
	now := p.o.Now()
	if lt.IssuedAt.IsZero() || lt.IssuedAt.After(now.Add(p.cfg.Leeway)) {
		return LogoutClaims{}, invalid("the logout token failed verification", fmt.Errorf("iat missing or in the future"))
	}
	// go-oidc accepts an empty events object; the spec wants the member.
	var c struct {
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := lt.Claims(&c); err != nil || c.Events[backchannelEvent] == nil {
		return LogoutClaims{}, invalid("the logout token failed verification", fmt.Errorf("no back-channel logout event"))
	}
	if err := p.firstUse(ctx, lt.TokenID, lt.Expiry); err != nil {
		return LogoutClaims{}, err
	}
	return LogoutClaims{Provider: p.cfg.Name, Subject: lt.Subject, SID: lt.SessionID, JTI: lt.TokenID, Expiry: lt.Expiry}, nil
}

// firstUse records the token's jti, refusing one seen before: atomically
// across replicas with a store lock held until the token's exp (plus
// leeway, at least a minute); with a store without locks, through the
// revocation set (read, then write).
func (p *Provider) firstUse(ctx context.Context, jti string, exp time.Time) error {
	id := "oidc-logout:" + p.cfg.Issuer + ":" + jti
	keep := max(exp.Add(p.cfg.Leeway).Sub(p.o.Now()), time.Minute)
	replay := invalid("the logout token was already used (jti seen before)", nil)
	if upd, ok := p.o.Store.(auth.SessionUpdater); ok {
		first, err := upd.TryLock(ctx, id, keep)
		switch {
		case err != nil:
			return &Error{Kind: KindUnavailable, Description: "store unavailable", Cause: err}
		case !first:
			return replay
		}
		return nil
	}
	seen, err := p.o.Store.JTIRevoked(ctx, id)
	if err != nil {
		return &Error{Kind: KindUnavailable, Description: "store unavailable", Cause: err}
	}
	if seen {
		return replay
	}
	if err := p.o.Store.RevokeJTI(ctx, id, p.o.Now().Add(keep)); err != nil {
		return &Error{Kind: KindUnavailable, Description: "store unavailable", Cause: err}
	}
	return nil
}

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// UnverifiedIssuer returns the iss claim of a JWT without verifying
// anything: only to choose which providers to verify it with.
func UnverifiedIssuer(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}

// Issuer is the configured issuer URL.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// EndSessionURL is the RP-initiated logout URL (with id_token_hint,
// client_id and post_logout_redirect_uri), or "" when end_session is off
// or the IdP has no end_session_endpoint.
func (p *Provider) EndSessionURL(idToken, postLogout string) string {
	p.mu.RLock()
	ep := p.meta.EndSession
	p.mu.RUnlock()
	if !p.cfg.EndSession || ep == "" {
		return ""
	}
	u, err := url.Parse(ep)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", p.cfg.ClientID)
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String()
}
