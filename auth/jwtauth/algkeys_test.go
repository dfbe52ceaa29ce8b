package jwtauth

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestAlgorithmWithoutKey: each allowed algorithm that no static key can
// verify is its own error naming it, the keys there are and the key it
// needs; a curve or key family mismatch counts (ES384 with a P-256 key).
// It used to be one "no configured key can verify algorithms RS256, ES256",
// misleading with an RSA key (issue 10).
func TestAlgorithmWithoutKey(t *testing.T) {
	testKeys(t)
	rsaPEM, ecPEM, edPEM := publicPEM(t, rsaKey.Public()), publicPEM(t, ecKey.Public()), publicPEM(t, edKey.Public())
	tests := []struct {
		name string
		algs []string
		keys [][]byte
		want []string // messages, in algorithm order; nil: accepted
	}{
		{"RSA key, ES256 listed", []string{"RS256", "ES256"}, [][]byte{rsaPEM}, []string{
			`issuers[1] "https://b.test": ES256 has no key among the issuer's keys (the key is: RSA 2048); remove ES256 or add an EC P-256 key`,
		}},
		{"EC key, RS256 listed", []string{"RS256", "ES256"}, [][]byte{ecPEM}, []string{
			`issuers[1] "https://b.test": RS256 has no key among the issuer's keys (the key is: EC P-256); remove RS256 or add an RSA key (2048 bits or more)`,
		}},
		{"two missing", []string{"ES384", "EdDSA", "PS256"}, [][]byte{ecPEM, rsaPEM}, []string{
			`issuers[1] "https://b.test": ES384 has no key among the issuer's keys (the keys are: EC P-256, RSA 2048); remove ES384 or add an EC P-384 key`,
			`issuers[1] "https://b.test": EdDSA has no key among the issuer's keys (the keys are: EC P-256, RSA 2048); remove EdDSA or add an Ed25519 key`,
		}},
		{"every one has a key", []string{"RS256", "PS512", "ES256", "EdDSA"}, [][]byte{rsaPEM, ecPEM, edPEM}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := IssuerConfig{Issuer: "https://a.test", Audiences: []string{"x"}, Algorithms: []string{"ES256"}, PublicKeys: [][]byte{ecPEM}}
			bad := IssuerConfig{Issuer: "https://b.test", Audiences: []string{"x"}, Algorithms: tt.algs, PublicKeys: tt.keys}
			_, err := NewVerifier(Options{Issuers: []IssuerConfig{ok, bad}})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("NewVerifier accepted an algorithm without a key")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, tt.want)
			}
			var ake *AlgorithmKeyError
			if !errors.As(err, &ake) || ake.Issuer != 1 || ake.Algorithm != tt.algs[ake.Index] {
				t.Errorf("errors.As AlgorithmKeyError: %+v, want issuer 1 and the algorithm's index", ake)
			}
		})
	}
}
