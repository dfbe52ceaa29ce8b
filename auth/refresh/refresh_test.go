package refresh

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
)

type fixture struct {
	svc      *Service
	store    *memstore.Store
	verifier *jwtauth.Verifier // what a jwt route uses: with the revocation list
	families *atomic.Int64
}

func newSigner(t testing.TB) *jwtauth.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	s, err := jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newFixture(t testing.TB, now func() time.Time) *fixture {
	t.Helper()
	return newFixtureWith(t, now, nil)
}

// newFixtureWith is newFixture with the Service's options changed by set
// (if not nil).
func newFixtureWith(t testing.TB, now func() time.Time, set func(*Options)) *fixture {
	t.Helper()
	signer := newSigner(t)
	f := &fixture{store: memstore.New(now), families: &atomic.Int64{}}
	t.Cleanup(func() { _ = f.store.Close() })
	o := Options{
		Store: f.store, Signer: signer, Issuer: "https://gh.example", Audience: "gatehouse",
		AccessTTL: time.Minute, RefreshTTL: time.Hour, Now: now,
		OnFamilyRevoked: func() { f.families.Add(1) },
	}
	if set != nil {
		set(&o)
	}
	var err error
	f.svc, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.verifier, err = jwtauth.NewVerifier(jwtauth.Options{
		Issuers: []jwtauth.IssuerConfig{{Issuer: "https://gh.example", Audiences: []string{"gatehouse"},
			Algorithms: []string{"ES256"}, Keys: signer.PublicKeys()}},
		Revocations: f.store, CacheSize: -1, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) issue(t *testing.T) Grant {
	t.Helper()
	g, err := f.svc.Issue(context.Background(), User{Name: "alice", Email: "alice@example.com", Groups: []string{"staff"}})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return g
}

func (f *fixture) accessOK(t *testing.T, token string, want bool) {
	t.Helper()
	_, err := f.verifier.Verify(context.Background(), token)
	if got := err == nil; got != want {
		t.Errorf("access token accepted: got %v (%v), want %v", got, err, want)
	}
}

func TestIssueAccessClaims(t *testing.T) {
	f := newFixture(t, nil)
	g := f.issue(t)
	id, err := f.verifier.Verify(context.Background(), g.AccessToken)
	if err != nil {
		t.Fatalf("Verify(access token): %v", err)
	}
	if id.Subject != "alice" || id.Email != "alice@example.com" || !slices.Equal(id.Groups, []string{"staff"}) || id.TokenID == "" {
		t.Errorf("got identity %+v, want alice, her email, [staff] and a jti", id)
	}
	if g.ExpiresIn != time.Minute {
		t.Errorf("got ExpiresIn %v, want %v", g.ExpiresIn, time.Minute)
	}
	if len(g.RefreshToken) != tokenLen || strings.Contains(g.RefreshToken, ".") {
		t.Errorf("got refresh token of length %d, want %d base64url characters", len(g.RefreshToken), tokenLen)
	}
}

func TestRotationAndReuse(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	g1 := f.issue(t)
	g2, err := f.svc.Refresh(ctx, g1.RefreshToken)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if g2.RefreshToken == g1.RefreshToken || g2.AccessToken == g1.AccessToken {
		t.Fatal("refresh returned the same tokens")
	}
	f.accessOK(t, g2.AccessToken, true)
	_, err = f.svc.Refresh(ctx, g1.RefreshToken)
	if !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("reuse of a spent refresh token: got %v, want auth.ErrRevoked", err)
	}
	if _, err := f.svc.Refresh(ctx, g2.RefreshToken); err == nil {
		t.Error("the newer refresh token still works after reuse")
	}
	f.accessOK(t, g1.AccessToken, false)
	f.accessOK(t, g2.AccessToken, false)
	if got := f.families.Load(); got != 1 {
		t.Errorf("got %d family revocations counted, want 1", got)
	}
	// A new login is unaffected.
	g3 := f.issue(t)
	f.accessOK(t, g3.AccessToken, true)
	if _, err := f.svc.Refresh(ctx, g3.RefreshToken); err != nil {
		t.Errorf("refresh in a new family: %v", err)
	}
}

func TestRefreshRefused(t *testing.T) {
	f := newFixture(t, nil)
	g := f.issue(t)
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"access token", g.AccessToken},
		{"unknown", randomString(32)},
		{"truncated", g.RefreshToken[:42]},
		{"padded", g.RefreshToken + "="},
		{"not base64url", strings.Repeat("+", tokenLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Refresh(context.Background(), tt.token)
			if !errors.Is(err, auth.ErrInvalid) {
				t.Errorf("Refresh(%s): got %v, want auth.ErrInvalid", tt.name, err)
			}
		})
	}
	// The refresh token is not an access token either.
	f.accessOK(t, g.RefreshToken, false)
}

func TestRefreshOfRevokedSubject(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	f := newFixture(t, clock)
	g := f.issue(t)
	if err := f.store.RevokeSubject(context.Background(), "alice", now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	_, err := f.svc.Refresh(context.Background(), g.RefreshToken)
	if !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("refresh of a revoked subject: got %v, want auth.ErrInvalid", err)
	}
	g2 := f.issue(t) // logged in after the revocation
	if _, err := f.svc.Refresh(context.Background(), g2.RefreshToken); err != nil {
		t.Errorf("refresh of a grant after the revocation: %v", err)
	}
}

func TestRefreshExpired(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newFixture(t, func() time.Time { return now })
	g := f.issue(t)
	now = now.Add(time.Hour + time.Second)
	if _, err := f.svc.Refresh(context.Background(), g.RefreshToken); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("expired refresh token: got %v, want auth.ErrInvalid", err)
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	t.Run("refresh token revokes its family", func(t *testing.T) {
		f := newFixture(t, nil)
		g1 := f.issue(t)
		g2, _ := f.svc.Refresh(ctx, g1.RefreshToken)
		if err := f.svc.Revoke(ctx, g2.RefreshToken); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, g2.RefreshToken); err == nil {
			t.Error("revoked refresh token still works")
		}
		f.accessOK(t, g1.AccessToken, false)
		f.accessOK(t, g2.AccessToken, false)
	})
	t.Run("access token", func(t *testing.T) {
		f := newFixture(t, nil)
		g := f.issue(t)
		if err := f.svc.Revoke(ctx, g.AccessToken); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		f.accessOK(t, g.AccessToken, false)
		if _, err := f.svc.Refresh(ctx, g.RefreshToken); err != nil {
			t.Errorf("revoking an access token revoked its refresh token: %v", err)
		}
	})
	t.Run("unknown and foreign tokens", func(t *testing.T) {
		f := newFixture(t, nil)
		other := newFixture(t, nil).issue(t)
		for _, tok := range []string{"", "garbage", randomString(32), other.AccessToken, "a.b.c"} {
			if err := f.svc.Revoke(ctx, tok); err != nil {
				t.Errorf("Revoke(%.20q): got %v, want nil", tok, err)
			}
		}
		if got := f.families.Load(); got != 0 {
			t.Errorf("got %d family revocations, want 0", got)
		}
	})
}
