package jwtauth

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// unsignedToken builds header.payload.sig from raw JSON parts.
func unsignedToken(t *testing.T, hdr, claims map[string]any, sig string) string {
	t.Helper()
	hj, _ := json.Marshal(hdr)
	cj, _ := json.Marshal(claims)
	return b64.EncodeToString(hj) + "." + b64.EncodeToString(cj) + "." + sig
}

func TestAlgNoneRejected(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}})
	valid := signToken(t, "RS256", rsaKey, nil, claimsAt(testNow))
	realSig := valid[strings.LastIndexByte(valid, '.')+1:]
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, sig := range []string{"", realSig} {
			tok := unsignedToken(t, map[string]any{"alg": alg, "typ": "JWT"}, claimsAt(testNow), sig)
			_, err := v.Verify(context.Background(), tok)
			wantErr(t, err, auth.ErrInvalid, "")
			if d := auth.Describe(err); d != "algorithm not allowed" && d != "malformed token" {
				t.Fatalf("alg %q with signature %v: got %q, want algorithm not allowed or malformed token", alg, sig != "", d)
			}
		}
	}
	// Even with "none" smuggled into the issuer's allow-list past config
	// checks, decodeHeader refuses it.
	v.issuers[testIssuer].algorithms["none"] = true
	tok := unsignedToken(t, map[string]any{"alg": "none"}, claimsAt(testNow), realSig)
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrInvalid, "algorithm not allowed")
}

// TestKeyConfusionHS256WithRSAPublicKey signs an HS256 token with the
// issuer's RSA public key PEM as the HMAC secret.
func TestKeyConfusionHS256WithRSAPublicKey(t *testing.T) {
	testKeys(t)
	ic := rsaPEMIssuer(t)
	secret := ic.PublicKeys[0]
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	tok := signToken(t, "HS256", secret, nil, claimsAt(testNow))
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrInvalid, "algorithm not allowed")

	// With HS256 forced into the allow-list (config refuses it, see
	// TestNewVerifierRejectsBadConfig), the RSA key still never serves as a
	// secret.
	v.issuers[testIssuer].algorithms["HS256"] = true
	_, err = v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrInvalid, "")
	for _, k := range v.issuers[testIssuer].static.keys {
		if k.allows("HS256") {
			t.Fatalf("RSA key %s allows HS256", k.kid)
		}
	}
}

func TestEmbeddedKeyHeadersIgnored(t *testing.T) {
	testKeys(t)
	ic, _ := esJWKSIssuer(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	waitReady(t, v)
	attackerJWK, err := jwk.FromRaw(attackerKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: testIssuer},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, attackerKey.Public(), attackerKey)
	if err != nil {
		t.Fatal(err)
	}
	embedded := []map[string]any{
		{"jwk": attackerJWK},
		{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}},
	}
	for _, hdr := range embedded {
		for _, kid := range []string{"", "ec1", thumb(t, attackerKey.Public())} {
			if kid != "" {
				hdr["kid"] = kid
			}
			_, err := v.Verify(context.Background(), signToken(t, "ES256", attackerKey, hdr, claimsAt(testNow)))
			wantErr(t, err, auth.ErrInvalid, "")
		}
	}
}

func TestJKUAndX5UHeadersNeverFetched(t *testing.T) {
	testKeys(t)
	ic, _ := esJWKSIssuer(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	waitReady(t, v)
	attacker := newJWKSServer(t, jwksJSON(t, []string{"evil"}, attackerKey.Public()))
	for _, member := range []string{"jku", "x5u"} {
		hdr := map[string]any{member: attacker.URL, "kid": "evil"}
		_, err := v.Verify(context.Background(), signToken(t, "ES256", attackerKey, hdr, claimsAt(testNow)))
		wantErr(t, err, auth.ErrInvalid, "unknown signing key")
	}
	if n := attacker.hits.Load(); n != 0 {
		t.Fatalf("got %d requests at the attacker's server, want 0", n)
	}
}

func TestClaimsRejected(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}, Leeway: 30 * time.Second, CacheSize: -1})
	tests := []struct {
		name   string
		modify func(c map[string]any)
		want   string // "" means accepted
	}{
		{"valid", func(map[string]any) {}, ""},
		{"expired", func(c map[string]any) { c["exp"] = testNow.Add(-time.Minute).Unix() }, "token expired"},
		{"expired within leeway", func(c map[string]any) { c["exp"] = testNow.Add(-10 * time.Second).Unix() }, ""},
		{"nbf in the future", func(c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() }, "token not yet valid"},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = testNow.Add(10 * time.Second).Unix() }, ""},
		{"iat in the future", func(c map[string]any) { c["iat"] = testNow.Add(time.Minute).Unix() }, "token issued in the future"},
		{"iat within leeway", func(c map[string]any) { c["iat"] = testNow.Add(10 * time.Second).Unix() }, ""},
		{"wrong iss", func(c map[string]any) { c["iss"] = "https://evil.test" }, "unknown issuer"},
		{"no iss", func(c map[string]any) { delete(c, "iss") }, "unknown issuer"},
		{"wrong aud", func(c map[string]any) { c["aud"] = "other" }, "audience not accepted"},
		{"aud array", func(c map[string]any) { c["aud"] = []any{"x", testAudience} }, ""},
		{"aud array without ours", func(c map[string]any) { c["aud"] = []any{"x", "y"} }, "audience not accepted"},
		{"no aud", func(c map[string]any) { delete(c, "aud") }, "audience not accepted"},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, "exp claim missing"},
		{"exp string", func(c map[string]any) { c["exp"] = "1900000000" }, "exp claim invalid"},
		{"exp huge", func(c map[string]any) { c["exp"] = 1e300 }, "exp claim invalid"},
		{"nbf string", func(c map[string]any) { c["nbf"] = "0" }, "nbf claim invalid"},
		{"no sub", func(c map[string]any) { delete(c, "sub") }, "subject missing"},
		{"jti number", func(c map[string]any) { c["jti"] = 5 }, "jti claim invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claimsAt(testNow)
			tt.modify(c)
			_, err := v.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, c))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantErr(t, err, auth.ErrInvalid, tt.want)
		})
	}
}

func TestMalformedTokens(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}})
	valid := signToken(t, "RS256", rsaKey, nil, claimsAt(testNow))
	parts := strings.Split(valid, ".")
	tests := map[string]string{
		"empty":                 "",
		"one segment":           parts[0],
		"two segments":          parts[0] + "." + parts[1],
		"empty signature":       parts[0] + "." + parts[1] + ".",
		"four segments":         valid + "." + parts[2],
		"bad base64 header":     "!!" + parts[0] + "." + parts[1] + "." + parts[2],
		"bad base64 payload":    parts[0] + "." + parts[1] + "*." + parts[2],
		"bad base64 signature":  parts[0] + "." + parts[1] + "." + parts[2] + "===",
		"padded header":         parts[0] + "=." + parts[1] + "." + parts[2],
		"header not JSON":       b64.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2],
		"header array":          b64.EncodeToString([]byte("[1]")) + "." + parts[1] + "." + parts[2],
		"payload not an object": parts[0] + "." + b64.EncodeToString([]byte(`"x"`)) + "." + parts[2],
		"payload null":          parts[0] + "." + b64.EncodeToString([]byte(`null`)) + "." + parts[2],
		"kid not a string":      unsignedToken(t, map[string]any{"alg": "RS256", "kid": 1}, claimsAt(testNow), parts[2]),
		"no alg":                unsignedToken(t, map[string]any{"typ": "JWT"}, claimsAt(testNow), parts[2]),
		"crit header":           signToken(t, "RS256", rsaKey, map[string]any{"crit": []string{"exp"}, "exp": 1}, claimsAt(testNow)),
		"tampered payload":      parts[0] + "." + b64.EncodeToString([]byte(`{"iss":"`+testIssuer+`","aud":"api","sub":"root","exp":1900000000}`)) + "." + parts[2],
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			wantErr(t, err, auth.ErrInvalid, "")
			if strings.Contains(err.Error(), tok) && tok != "" {
				t.Fatalf("error %q echoes the token", err)
			}
		})
	}
}

func TestOversizedTokenRefusedEarly(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}})
	huge := strings.Repeat("a", 1<<20) + "." + strings.Repeat("b", 10) + ".c"
	start := time.Now()
	_, err := v.Verify(context.Background(), huge)
	wantErr(t, err, auth.ErrInvalid, "token too large")
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("1 MiB token took %s, want under 100ms", d)
	}
	allocs := testing.AllocsPerRun(10, func() { v.Verify(context.Background(), huge) })
	if allocs > 2 {
		t.Fatalf("got %v allocations for a 1 MiB token, want at most 2 (no decoding)", allocs)
	}
	justOver := strings.Repeat("a", MaxTokenSize+1)
	_, err = v.Verify(context.Background(), justOver)
	wantErr(t, err, auth.ErrInvalid, "token too large")
}

func TestIssuerNotConfigured(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t)}})
	c := claimsAt(testNow)
	c["iss"] = "https://other-idp.test"
	_, err := v.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, c))
	wantErr(t, err, auth.ErrInvalid, "unknown issuer")

	empty := newTestVerifier(t, Options{})
	_, err = empty.Verify(context.Background(), signToken(t, "RS256", rsaKey, nil, claimsAt(testNow)))
	wantErr(t, err, auth.ErrInvalid, "unknown issuer")
}

// TestIssuerKeysAreSeparate checks that a token claiming one issuer is not
// accepted with another issuer's key.
func TestIssuerKeysAreSeparate(t *testing.T) {
	testKeys(t)
	other := IssuerConfig{Issuer: "https://other.test", Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		PublicKeys: [][]byte{publicPEM(t, attackerKey.Public())}}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{rsaPEMIssuer(t), other}})
	_, err := v.Verify(context.Background(), signToken(t, "ES256", attackerKey, nil, claimsAt(testNow)))
	wantErr(t, err, auth.ErrInvalid, "algorithm not allowed")
}
