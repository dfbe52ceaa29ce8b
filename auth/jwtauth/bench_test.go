package jwtauth

import (
	"context"
	"testing"
)

// BenchmarkVerifyES256Cold verifies a token that is never in the cache.
func BenchmarkVerifyES256Cold(b *testing.B) {
	testKeys(b)
	ic := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		PublicKeys: [][]byte{publicPEM(b, ecKey.Public())}}
	v := newTestVerifier(b, Options{Issuers: []IssuerConfig{ic}, CacheSize: -1})
	tok := signToken(b, "ES256", ecKey, map[string]any{"kid": thumb(b, ecKey.Public())}, claimsAt(testNow))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyES256Warm verifies a cached token, with a revocation store.
func BenchmarkVerifyES256Warm(b *testing.B) {
	testKeys(b)
	ic := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		PublicKeys: [][]byte{publicPEM(b, ecKey.Public())}}
	v := newTestVerifier(b, Options{Issuers: []IssuerConfig{ic}, Revocations: newMapRevocations()})
	benchWarm(b, v, signToken(b, "ES256", ecKey, nil, claimsAt(testNow)))
}

// BenchmarkVerifyHS256Warm verifies a cached HS256 token.
func BenchmarkVerifyHS256Warm(b *testing.B) {
	ic := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"HS256"}, HMACSecret: testHMACSecret}
	v := newTestVerifier(b, Options{Issuers: []IssuerConfig{ic}})
	benchWarm(b, v, signToken(b, "HS256", testHMACSecret, nil, claimsAt(testNow)))
}

func benchWarm(b *testing.B, v *Verifier, tok string) {
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
