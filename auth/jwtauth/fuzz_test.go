package jwtauth

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, must
// answer with an identity or an *auth.Error, and must never echo the input.
// The seed corpus in testdata/fuzz/FuzzVerify holds a valid HS256 token
// (its secret is testHMACSecret, its time testNow) and malformed variants.
func FuzzVerify(f *testing.F) {
	testKeys(f)
	hs := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"HS256", "HS512"}, HMACSecret: testHMACSecret}
	es := IssuerConfig{Issuer: "https://es.test", Audiences: []string{testAudience}, Algorithms: []string{"ES256", "EdDSA"},
		PublicKeys: [][]byte{publicPEM(f, ecKey.Public()), publicPEM(f, edKey.Public())}}
	v := newTestVerifier(f, Options{Issuers: []IssuerConfig{hs, es}, CacheSize: 16})
	esClaims := claimsAt(testNow)
	esClaims["iss"] = "https://es.test"
	f.Add(signToken(f, "ES256", ecKey, nil, esClaims))
	f.Add(signToken(f, "EdDSA", edKey, map[string]any{"kid": thumb(f, edKey.Public())}, esClaims))
	f.Add(signToken(f, "HS256", testHMACSecret, map[string]any{"jku": "http://127.0.0.1:1/"}, claimsAt(testNow)))
	f.Add(signToken(f, "HS256", testHMACSecret, map[string]any{"typ": TypeAssertion}, claimsAt(testNow)))
	dup := b64.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + b64.EncodeToString([]byte(`{"sub":"a","sub":"b","iss":"`+testIssuer+`"}`))
	f.Add(dup + ".sig")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err == nil {
			if id == nil || id.Subject == "" || id.Method != auth.MethodJWT {
				t.Fatalf("got identity %+v without error", id)
			}
			if !exactValue(id.User) || !exactValue(id.Email) {
				t.Fatalf("got identity %+v with values that are not exact", id)
			}
			return
		}
		var ae *auth.Error
		if !errors.As(err, &ae) || id != nil {
			t.Fatalf("got %v (%T) and identity %v, want *auth.Error alone", err, err, id)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error %q echoes the token", err)
		}
	})
}

// TestFuzzSeedValid keeps the committed valid seed valid, so that fuzzing
// starts from a token that reaches the claim checks.
func TestFuzzSeedValid(t *testing.T) {
	data, err := os.ReadFile("testdata/fuzz/FuzzVerify/valid_hs256")
	if err != nil {
		t.Fatal(err)
	}
	_, quoted, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	token, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(quoted, "string("), ")"))
	if err != nil {
		t.Fatalf("seed file: %v", err)
	}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{{Issuer: testIssuer, Audiences: []string{testAudience},
		Algorithms: []string{"HS256"}, HMACSecret: testHMACSecret}}})
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("valid seed: %v", err)
	}
}
