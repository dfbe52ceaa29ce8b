package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// The bench's own tokens are minted in process with jwtauth.Signer from
// the config's jwt.issue.signing_key_file, with the claims `gatehouse token
// -sub alice -ttl 1h` sets: Gatehouse accepts them as its own.
const (
	benchIssuer   = "http://bench"
	benchAudience = "gatehouse"
)

// minter mints access tokens for alice with the bench's issuing key.
type minter struct{ s *jwtauth.Signer }

func newMinter(keyFile string) (*minter, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	s, err := jwtauth.NewSigner(pem, nil)
	if err != nil {
		return nil, err
	}
	return &minter{s: s}, nil
}

// bearers mints n distinct tokens (each with its own jti) and returns
// their Authorization header values.
func (m *minter) bearers(n int) ([]string, error) {
	out := make([]string, n)
	now := time.Now()
	for i := range out {
		tok, _, _, err := m.s.Mint(jwtauth.Claims{
			Issuer: benchIssuer, Audience: benchAudience, Subject: "alice", TTL: time.Hour, Now: now,
		})
		if err != nil {
			return nil, err
		}
		out[i] = "Bearer " + tok
	}
	return out, nil
}

// headers wraps each value in its own header map, for rotate.
func headers(values []string) []http.Header {
	hs := make([]http.Header, len(values))
	for i, v := range values {
		hs[i] = http.Header{"Authorization": {v}}
	}
	return hs
}

// verifyCost measures the CPU time of one cold verification in this
// process: a fresh jwtauth.Verifier configured as Gatehouse configures its
// own issuer (issuer, audience, the signer's public keys, the default
// verified-token cache), every token new to it, so each call parses, checks
// the signature and the claims and fills the cache. The revocation check is
// left out (no store): it is not verification, and under load its answer
// comes from Gatehouse's revocation cache or one Redis call. bearers are
// "Bearer …" values; at most budget of CPU time is spent.
func (m *minter) verifyCost(bearers []string, budget time.Duration) (time.Duration, int, error) {
	v, err := jwtauth.NewVerifier(jwtauth.Options{Issuers: []jwtauth.IssuerConfig{{
		Issuer: benchIssuer, Audiences: []string{benchAudience},
		Algorithms: []string{m.s.Algorithm()}, Keys: m.s.PublicKeys(),
	}}})
	if err != nil {
		return 0, 0, err
	}
	ctx := context.Background()
	// The first call pays one-time costs (key conversion, code paging in).
	if _, err := v.Verify(ctx, bearers[0][len("Bearer "):]); err != nil {
		return 0, 0, fmt.Errorf("verify a bench token: %w", err)
	}
	n, start := 0, selfCPU()
	for _, b := range bearers[1:] {
		if _, err := v.Verify(ctx, b[len("Bearer "):]); err != nil {
			return 0, 0, fmt.Errorf("verify a bench token: %w", err)
		}
		n++
		if n%64 == 0 && selfCPU()-start >= budget {
			break
		}
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("verify cost: one token only")
	}
	return (selfCPU() - start) / time.Duration(n), n, nil
}
