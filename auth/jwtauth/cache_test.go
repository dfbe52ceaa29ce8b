package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

func TestRevocation(t *testing.T) {
	testKeys(t)
	claimsNoIAT := claimsAt(testNow)
	delete(claimsNoIAT, "iat")
	tests := []struct {
		name   string
		claims map[string]any
		revoke func(r *mapRevocations)
		want   error // nil: accepted
	}{
		{"not revoked", claimsAt(testNow), func(*mapRevocations) {}, nil},
		{"jti revoked", claimsAt(testNow), func(r *mapRevocations) { r.jtis["jti-1"] = true }, auth.ErrRevoked},
		{"other jti revoked", claimsAt(testNow), func(r *mapRevocations) { r.jtis["jti-2"] = true }, nil},
		{"subject revoked at iat", claimsAt(testNow), func(r *mapRevocations) { r.subjects["alice"] = testNow }, auth.ErrRevoked},
		{"subject revoked after iat", claimsAt(testNow), func(r *mapRevocations) { r.subjects["alice"] = testNow.Add(time.Second) }, auth.ErrRevoked},
		{"subject revoked before iat", claimsAt(testNow), func(r *mapRevocations) { r.subjects["alice"] = testNow.Add(-time.Second) }, nil},
		{"other subject revoked", claimsAt(testNow), func(r *mapRevocations) { r.subjects["bob"] = testNow }, nil},
		{"no iat, subject revoked long ago", claimsNoIAT, func(r *mapRevocations) { r.subjects["alice"] = time.Unix(1, 0) }, auth.ErrRevoked},
		{"store down", claimsAt(testNow), func(r *mapRevocations) { r.err = errStoreDown }, auth.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := newMapRevocations()
			tt.revoke(rev)
			v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}, Revocations: rev})
			id, err := v.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, tt.claims))
			if tt.want == nil {
				if err != nil || id == nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantErr(t, err, tt.want, "")
			if tt.want == auth.ErrUnavailable {
				// The signature verified; the identity comes back with the
				// error for store.on_error: allow.
				if id == nil || id.Subject != "alice" {
					t.Fatalf("got identity %+v with a store error, want alice's", id)
				}
				if !errors.Is(err, errStoreDown) {
					t.Fatalf("got %v, want it to wrap the store's error", err)
				}
				return
			}
			if id != nil {
				t.Fatalf("got identity %+v with error %v, want none", id, err)
			}
		})
	}
}

func TestRevocationOnCacheHit(t *testing.T) {
	testKeys(t)
	rev := newMapRevocations()
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}, Revocations: rev})
	tok := signToken(t, "RS256", rsaKey, nil, claimsAt(testNow))
	other := signToken(t, "RS256", rsaKey, nil, func() map[string]any { c := claimsAt(testNow); c["jti"] = "jti-2"; return c }())
	for _, tk := range []string{tok, other} {
		if _, err := v.Verify(context.Background(), tk); err != nil {
			t.Fatalf("first Verify: %v", err)
		}
	}
	if n := v.cache.len(); n != 2 {
		t.Fatalf("got %d cached tokens, want 2", n)
	}

	rev.RevokeJTI(context.Background(), "jti-1", testNow.Add(time.Hour))
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrRevoked, "token revoked")
	if _, err := v.Verify(context.Background(), other); err != nil {
		t.Fatalf("other token after jti revocation: %v", err)
	}

	rev.RevokeSubject(context.Background(), "alice", testNow)
	_, err = v.Verify(context.Background(), other)
	wantErr(t, err, auth.ErrRevoked, "token revoked")

	rev.setErr(errStoreDown)
	_, err = v.Verify(context.Background(), other)
	wantErr(t, err, auth.ErrUnavailable, "")
}

func TestCacheNeverOutlivesExp(t *testing.T) {
	testKeys(t)
	clk := newClock(testNow)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}, Now: clk.now, Leeway: 10 * time.Second})
	tok := signToken(t, "RS256", rsaKey, nil, claimsAt(testNow)) // exp = testNow + 5m
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	exp := testNow.Add(5 * time.Minute)
	tests := []struct {
		at   time.Time
		want string
	}{
		{exp.Add(-time.Second), ""},
		{exp.Add(9 * time.Second), ""}, // within leeway
		{exp.Add(10 * time.Second), "token expired"},
		{exp.Add(time.Hour), "token expired"},
	}
	for _, tt := range tests {
		clk.set(tt.at)
		wasCached := v.cache.len() == 1
		_, err := v.Verify(context.Background(), tok)
		if tt.want == "" {
			if err != nil || !wasCached {
				t.Fatalf("at exp%+v: got %v (cached %v), want a cache hit", tt.at.Sub(exp), err, wasCached)
			}
			continue
		}
		wantErr(t, err, auth.ErrInvalid, tt.want)
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("got %d cached tokens after expiry, want 0", n)
	}
}

func TestCacheBounded(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{{Issuer: testIssuer, Audiences: []string{testAudience},
		Algorithms: []string{"HS256"}, HMACSecret: testHMACSecret}}, CacheSize: 64})
	for i := range 500 {
		c := claimsAt(testNow)
		c["jti"] = fmt.Sprint(i)
		if _, err := v.Verify(context.Background(), signToken(t, "HS256", testHMACSecret, nil, c)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if n := v.cache.len(); n > 64 || n == 0 {
		t.Fatalf("got %d cached tokens, want 1..64", n)
	}
	off := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}, CacheSize: -1})
	if off.cache != nil {
		t.Fatal("got a cache with CacheSize -1")
	}
}

func TestKeyWithdrawalClearsCache(t *testing.T) {
	testKeys(t)
	ic, srv := esJWKSIssuer(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	waitReady(t, v)
	tok := signToken(t, "ES256", ecKey, map[string]any{"kid": "ec1"}, claimsAt(testNow))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	srv.setBody(jwksJSON(t, []string{"ec2"}, ecKey2.Public()))
	v.jwks[0].gap = 0
	if _, err := v.Verify(context.Background(), signToken(t, "ES256", ecKey2, map[string]any{"kid": "ec2"}, claimsAt(testNow))); err != nil {
		t.Fatalf("Verify with the new key: %v", err)
	}
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrInvalid, "unknown signing key")
}
