package assertion

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// Issue 9 item 5: an assertion is typed gh-assertion+jwt; the middleware's
// verifier accepts only that type, so an access token (at+jwt) signed with
// the same key, for the same issuer and audience, is not an assertion; and
// a Bearer verifier refuses the assertion.
func TestAssertionIsTyped(t *testing.T) {
	key := newKey(t)
	s, err := NewSigner(SignerOptions{Key: key, Issuer: "https://gate.example"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Assert(alice, "api")
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, _ := strings.Cut(a, ".")
	if raw, _ := jwtB64.DecodeString(hdr); !strings.Contains(string(raw), `"typ":"gh-assertion+jwt"`) {
		t.Fatalf("assertion header %s, want typ gh-assertion+jwt", raw)
	}
	v, err := NewVerifier(VerifyOptions{Keys: key.PublicKeys(), Issuer: "https://gate.example", Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), a); err != nil {
		t.Fatalf("assertion: %v", err)
	}
	access, _, _, err := key.Mint(jwtauth.Claims{Issuer: "https://gate.example", Audience: "api", Subject: "alice", TTL: time.Minute,
		Extra: map[string]any{"auth": "jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), access); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("access token as an assertion: got %v, want it refused", err)
	}
	bearer, err := jwtauth.NewVerifier(jwtauth.Options{Issuers: []jwtauth.IssuerConfig{{
		Issuer: "https://gate.example", Audiences: []string{"api"}, Algorithms: []string{key.Algorithm()}, Keys: key.PublicKeys(),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bearer.Verify(context.Background(), a); !errors.Is(err, auth.ErrInvalid) || auth.Describe(err) != "token type not accepted" {
		t.Fatalf("assertion as a Bearer token: got %v, want token type not accepted", err)
	}
	if _, err := bearer.Verify(context.Background(), access); err != nil {
		t.Fatalf("access token as a Bearer token: %v", err)
	}
}

var jwtB64 = base64.RawURLEncoding
