package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestSignerKeyTypes(t *testing.T) {
	testKeys(t)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	tests := []struct {
		name    string
		pem     []byte
		pub     any
		wantAlg string
	}{
		{"EC P-256 PKCS#8", privatePEM(t, ecKey), ecKey.Public(), "ES256"},
		{"EC P-256 SEC1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), ecKey.Public(), "ES256"},
		{"Ed25519", privatePEM(t, edKey), edKey.Public(), "EdDSA"},
		{"RSA 2048 PKCS#8", privatePEM(t, rsaKey), rsaKey.Public(), "RS256"},
		{"RSA 2048 PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public(), "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.pem, nil)
			if err != nil {
				t.Fatalf("NewSigner: %v", err)
			}
			if s.Algorithm() != tt.wantAlg {
				t.Fatalf("got algorithm %q, want %q", s.Algorithm(), tt.wantAlg)
			}
			if want := thumb(t, tt.pub); s.KeyID() != want {
				t.Fatalf("got kid %q, want thumbprint %q", s.KeyID(), want)
			}
			v := newTestVerifier(t, Options{Issuers: []IssuerConfig{{Issuer: testIssuer, Audiences: []string{"gatehouse"},
				Keys: s.PublicKeys(), Algorithms: []string{s.Algorithm()}}}})
			tok, jti, exp, err := s.Mint(Claims{Issuer: testIssuer, Audience: "gatehouse", Subject: "alice", TTL: 5 * time.Minute,
				Now: testNow, Extra: map[string]any{"groups": []string{"staff"}}})
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			id, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.TokenID != jti || !id.ExpiresAt.Equal(exp) || !exp.Equal(testNow.Add(5*time.Minute)) || !id.HasGroup("staff") {
				t.Fatalf("got identity %+v, want jti %q exp %v group staff", id, jti, exp)
			}
			hdr := decodeTestHeader(t, tok)
			if hdr["typ"] != TypeAccess || hdr["kid"] != s.KeyID() || hdr["alg"] != tt.wantAlg {
				t.Fatalf("got header %v, want typ at+jwt, kid %q, alg %q", hdr, s.KeyID(), tt.wantAlg)
			}
		})
	}
}

func decodeTestHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	var hdr map[string]any
	if err := decodeJSON(tok[:strings.IndexByte(tok, '.')], &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr
}

func TestSignerRejectsKeys(t *testing.T) {
	testKeys(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name string
		pem  []byte
		want string
	}{
		{"RSA 1024", privatePEM(t, weak), "RSA key of 1024 bits is too weak"},
		{"P-384", privatePEM(t, p384), "EC curve P-384 is not accepted"},
		{"public key", publicPEM(t, ecKey.Public()), `unsupported PEM block "PUBLIC KEY"`},
		{"not PEM", []byte("hello"), "no PEM block"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "parse PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSigner(tt.pem, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if tt.name != "not PEM" && tt.name != "garbage DER" && !strings.Contains(err.Error(), acceptedSigningKeys) {
				t.Fatalf("got error %v, want it to say what is accepted", err)
			}
		})
	}
	if _, err := NewSigner(privatePEM(t, ecKey), [][]byte{privatePEM(t, weak)}); err == nil || !strings.Contains(err.Error(), "previous key 0") {
		t.Fatalf("got error %v for a weak previous key, want one naming previous key 0", err)
	}
}

func TestSignerPreviousKeys(t *testing.T) {
	testKeys(t)
	old, err := NewSigner(privatePEM(t, rsaKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := NewSigner(privatePEM(t, ecKey), [][]byte{privatePEM(t, rsaKey), publicPEM(t, edKey.Public())})
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	set := cur.PublicKeys()
	wantKids := map[string]string{cur.KeyID(): "ES256", old.KeyID(): "RS256", thumb(t, edKey.Public()): "EdDSA"}
	if set.Len() != len(wantKids) {
		t.Fatalf("got %d public keys, want %d", set.Len(), len(wantKids))
	}
	for kid, alg := range wantKids {
		k, ok := set.LookupKeyID(kid)
		if !ok {
			t.Fatalf("kid %q missing from PublicKeys", kid)
		}
		if k.Algorithm().String() != alg || k.KeyUsage() != "sig" {
			t.Fatalf("kid %q: got alg %q use %q, want %q sig", kid, k.Algorithm(), k.KeyUsage(), alg)
		}
		if _, isPriv := k.(interface{ D() []byte }); isPriv || k.KeyType() == "oct" {
			t.Fatalf("kid %q: published key is not public", kid)
		}
	}
	// A token from the previous key still verifies against the new JWKS.
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{{Issuer: testIssuer, Audiences: []string{"gatehouse"},
		Keys: cur.PublicKeys(), Algorithms: []string{"ES256", "RS256"}}}})
	tok, _, _, err := old.Mint(Claims{Issuer: testIssuer, Audience: "gatehouse", Subject: "bob", TTL: time.Minute, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify with previous key: %v", err)
	}
	// The set handed out is a copy.
	set.RemoveKey(func() jwk.Key { k, _ := set.LookupKeyID(cur.KeyID()); return k }())
	if cur.PublicKeys().Len() != 3 {
		t.Fatal("modifying PublicKeys' result changed the signer")
	}
	b, _ := json.Marshal(cur.PublicKeys())
	if strings.Contains(string(b), `"d"`) {
		t.Fatalf("JWKS %s contains private material", b)
	}
}

func TestMint(t *testing.T) {
	testKeys(t)
	s, err := NewSigner(privatePEM(t, edKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := Claims{Issuer: testIssuer, Audience: "gatehouse", Subject: "alice", TTL: time.Minute, Now: testNow}
	tok, jti, _, err := s.Mint(base)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if raw, err := b64.DecodeString(jti); err != nil || len(raw) != 16 {
		t.Fatalf("got jti %q, want 128 random bits in base64url", jti)
	}
	_, jti2, _, _ := s.Mint(base)
	if jti == jti2 {
		t.Fatalf("got jti %q twice", jti)
	}
	var claims map[string]any
	if err := decodeJSON(strings.Split(tok, ".")[1], &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"iss": testIssuer, "aud": "gatehouse", "sub": "alice",
		"iat": float64(testNow.Unix()), "exp": float64(testNow.Unix() + 60), "jti": jti}
	for k, w := range want {
		if claims[k] != w {
			t.Errorf("claim %s: got %v, want %v", k, claims[k], w)
		}
	}
	bad := []Claims{
		{Audience: "a", Subject: "s", TTL: time.Minute},
		{Issuer: "i", Audience: "a", Subject: "s"},
		{Issuer: "i", Audience: "a", Subject: "s", TTL: time.Minute, Extra: map[string]any{"exp": 1}},
	}
	for _, c := range bad {
		if _, _, _, err := s.Mint(c); err == nil {
			t.Errorf("Mint(%+v): got no error", c)
		}
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// RFC 7638 §3.1 example key and thumbprint.
	const key = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	k, err := jwk.ParseKey([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	for _, in := range []any{k, raw} {
		if got, want := thumb(t, in), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
			t.Fatalf("Thumbprint(%T): got %q, want %q", in, got, want)
		}
	}
	testKeys(t)
	if thumb(t, ecKey) != thumb(t, ecKey.Public()) {
		t.Fatal("private and public key thumbprints differ")
	}
}
