package jwtauth

import (
	"context"
	"crypto"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

func TestVerifyHappyPaths(t *testing.T) {
	testKeys(t)
	octSet := jwk.NewSet()
	octKey, _ := jwk.FromRaw(testHMACSecret)
	octKey.Set(jwk.KeyIDKey, "hs1")
	octSet.AddKey(octKey)
	tests := []struct {
		name   string
		alg    string
		sign   any
		kid    string
		issuer func(t *testing.T) IssuerConfig
	}{
		{"RS256 PEM", "RS256", rsaKey, "", pemIssuer(rsaKey.Public())},
		{"ES256 PEM", "ES256", ecKey, "", pemIssuer(ecKey.Public())},
		{"EdDSA PEM", "EdDSA", edKey, "", pemIssuer(edKey.Public())},
		{"RS256 JWKS", "RS256", rsaKey, "k1", jwksIssuer(rsaKey.Public())},
		{"ES256 JWKS", "ES256", ecKey, "k1", jwksIssuer(ecKey.Public())},
		{"EdDSA JWKS", "EdDSA", edKey, "k1", jwksIssuer(edKey.Public())},
		{"ES256 JWKS without kid", "ES256", ecKey, "", jwksIssuer(ecKey.Public())},
		{"HS256 secret", "HS256", testHMACSecret, "", func(*testing.T) IssuerConfig {
			return IssuerConfig{HMACSecret: testHMACSecret}
		}},
		{"HS256 secret with any kid", "HS256", testHMACSecret, "whatever", func(*testing.T) IssuerConfig {
			return IssuerConfig{HMACSecret: testHMACSecret}
		}},
		{"HS256 static JWKS", "HS256", testHMACSecret, "hs1", func(*testing.T) IssuerConfig {
			return IssuerConfig{Keys: octSet}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := tt.issuer(t)
			ic.Issuer, ic.Audiences, ic.Algorithms = testIssuer, []string{"other", testAudience}, []string{tt.alg}
			v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
			if ic.JWKSURL != "" {
				waitReady(t, v)
			}
			hdr := map[string]any{}
			if tt.kid != "" {
				hdr["kid"] = tt.kid
			}
			claims := claimsAt(testNow)
			tok := signToken(t, tt.alg, tt.sign, hdr, claims)
			id, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := &auth.Identity{Subject: "alice", User: "alice", Method: auth.MethodJWT, Issuer: testIssuer,
				TokenID: "jti-1", IssuedAt: testNow, ExpiresAt: testNow.Add(5 * time.Minute)}
			got := *id
			got.Claims = nil
			if !reflect.DeepEqual(&got, want) {
				t.Fatalf("got %+v, want %+v", got, *want)
			}
			if id.Claims["aud"] != testAudience {
				t.Fatalf("got claims %v, want the full claim set", id.Claims)
			}
		})
	}
}

func pemIssuer(pub crypto.PublicKey) func(t *testing.T) IssuerConfig {
	return func(t *testing.T) IssuerConfig { return IssuerConfig{PublicKeys: [][]byte{publicPEM(t, pub)}} }
}

func jwksIssuer(pub crypto.PublicKey) func(t *testing.T) IssuerConfig {
	return func(t *testing.T) IssuerConfig {
		srv := newJWKSServer(t, jwksJSON(t, []string{"k1"}, pub))
		return IssuerConfig{JWKSURL: srv.URL}
	}
}

func TestKidSelectsPEMKeyByThumbprint(t *testing.T) {
	testKeys(t)
	ic := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		PublicKeys: [][]byte{publicPEM(t, ecKey.Public()), publicPEM(t, ecKey2.Public())}}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}, CacheSize: -1})
	claims := claimsAt(testNow)
	tests := []struct {
		name    string
		signer  any
		kid     string
		wantErr string
	}{
		{"kid of the signing key", ecKey2, thumb(t, ecKey2.Public()), ""},
		{"no kid tries every key", ecKey2, "", ""},
		{"kid of the other key", ecKey2, thumb(t, ecKey.Public()), "signature invalid"},
		{"unknown kid", ecKey2, "nope", "unknown signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]any{}
			if tt.kid != "" {
				hdr["kid"] = tt.kid
			}
			_, err := v.Verify(context.Background(), signToken(t, "ES256", tt.signer, hdr, claims))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantErr(t, err, auth.ErrInvalid, tt.wantErr)
		})
	}
}

func TestClaimMapping(t *testing.T) {
	testKeys(t)
	ic := rsaPEMIssuer(t)
	ic.Claims = ClaimMapping{User: "preferred_username", Email: "contact.mail", Groups: "realm_access.roles"}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	claims := claimsAt(testNow)
	claims["preferred_username"] = "Alice A."
	claims["contact"] = map[string]any{"mail": "alice@example.com"}
	claims["realm_access"] = map[string]any{"roles": []any{"staff", "admin", 7}}
	id, err := v.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, claims))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.User != "Alice A." || id.Email != "alice@example.com" || !reflect.DeepEqual(id.Groups, []string{"staff", "admin"}) {
		t.Fatalf("got user %q email %q groups %q, want %q %q %q", id.User, id.Email, id.Groups, "Alice A.", "alice@example.com", []string{"staff", "admin"})
	}

	claims = claimsAt(testNow)
	claims["jti"] = "jti-2"
	claims["realm_access"] = map[string]any{"roles": "solo"}
	id, err = v.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, claims))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.User != "" || !reflect.DeepEqual(id.Groups, []string{"solo"}) {
		t.Fatalf("got user %q groups %q, want \"\" [solo]", id.User, id.Groups)
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"scope string", map[string]any{"scope": "read  write"}, []string{"read", "write"}},
		{"scp array", map[string]any{"scp": []any{"read", "write"}}, []string{"read", "write"}},
		{"scp string", map[string]any{"scp": "read write"}, []string{"read", "write"}},
		{"scope wins over scp", map[string]any{"scope": "a", "scp": []any{"b"}}, []string{"a"}},
		{"none", map[string]any{}, nil},
		{"empty scope", map[string]any{"scope": ""}, nil},
	}
	for _, tt := range tests {
		if got := scopes(tt.claims); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestScopesInIdentity(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}})
	claims := claimsAt(testNow)
	claims["scp"] = []any{"read", "write"}
	id, err := v.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, claims))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !id.HasScopes("read", "write") {
		t.Fatalf("got scopes %q, want read and write", id.Scopes)
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	testKeys(t)
	pemKey := [][]byte{publicPEM(t, rsaKey.Public())}
	tests := []struct {
		name string
		ic   IssuerConfig
		want string
	}{
		{"none", IssuerConfig{Algorithms: []string{"RS256", "none"}, PublicKeys: pemKey}, `"none" is never accepted`},
		{"NONE", IssuerConfig{Algorithms: []string{"NONE"}, PublicKeys: pemKey}, `"none" is never accepted`},
		{"HS256 with a public key", IssuerConfig{Algorithms: []string{"RS256", "HS256"}, PublicKeys: pemKey}, "HS256 has no key among the issuer's keys (the key is: RSA 2048); remove HS256 or add an HMAC secret"},
		{"HS256 with JWKS", IssuerConfig{Algorithms: []string{"HS256"}, JWKSURL: "https://idp.test/jwks"}, "cannot be used with a JWKS URL"},
		{"RS256 with a secret", IssuerConfig{Algorithms: []string{"RS256"}, HMACSecret: testHMACSecret}, "RS256 has no key among the issuer's keys (the key is: HMAC secret); remove RS256 or add an RSA key (2048 bits or more)"},
		{"short secret", IssuerConfig{Algorithms: []string{"HS256"}, HMACSecret: []byte("short")}, "too short"},
		{"no algorithms", IssuerConfig{PublicKeys: pemKey}, "no algorithms"},
		{"unknown algorithm", IssuerConfig{Algorithms: []string{"RS257"}, PublicKeys: pemKey}, `unknown algorithm "RS257"`},
		{"two key sources", IssuerConfig{Algorithms: []string{"RS256"}, PublicKeys: pemKey, JWKSURL: "https://idp.test/jwks"}, "exactly one"},
		{"no key source", IssuerConfig{Algorithms: []string{"RS256"}}, "exactly one"},
		{"bad PEM", IssuerConfig{Algorithms: []string{"RS256"}, PublicKeys: [][]byte{[]byte("junk")}}, "no PEM block"},
		{"JWKS URL scheme", IssuerConfig{Algorithms: []string{"RS256"}, JWKSURL: "file:///etc/passwd"}, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ic.Issuer, tt.ic.Audiences = testIssuer, []string{testAudience}
			_, err := NewVerifier(Options{Issuers: []IssuerConfig{tt.ic}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	_, err := NewVerifier(Options{Issuers: []IssuerConfig{{Issuer: testIssuer, Algorithms: []string{"RS256"}, PublicKeys: pemKey}}})
	if err == nil || !strings.Contains(err.Error(), "no audiences") {
		t.Fatalf("got error %v, want one about missing audiences", err)
	}
	ic := rsaPEMIssuer(t)
	_, err = NewVerifier(Options{Issuers: []IssuerConfig{ic, ic}})
	if err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("got error %v, want one about a duplicate issuer", err)
	}
}
