package jwtauth

import (
	"context"
	"crypto"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// BenchmarkColdVerify compares, on the cold path (no verified-token cache),
// Gatehouse's verifier with a jwx-based one: jwt.Parse with a key set and
// validation options, the rules jwx does not know kept as small checks
// around it (issue 11 item 6). Run with
//
//	go test -run '^$' -bench ColdVerify -benchmem -count 20 -benchtime 300x ./auth/jwtauth
//
// Sub-benchmarks, per algorithm:
//
//	gatehouse/pem     Verifier.Verify, key from PEM (kid: thumbprint)
//	gatehouse/jwks    Verifier.Verify, key from a fetched JWKS
//	jwx/pem           jwxVerify with a static jwk.Set
//	jwx/jwk.Cache     jwxVerify with the set from jwk.Cache.Get
//	jwx/own-keys      jwxVerify with Gatehouse's kid selection and keys
//	                  converted once, handed to jwx by a jws.KeyProvider
//	jws/own-keys      as jwx/own-keys, but jws.Verify checks the signature
//	                  alone and Gatehouse's claim checks do the rest
//	jwx/parse-only    jwt.Parse with validation alone: what jwx itself costs,
//	                  none of Gatehouse's rules (a lower bound, not a candidate)
func BenchmarkColdVerify(b *testing.B) {
	testKeys(b)
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ecKey}, {"RS256", rsaKey}} {
		b.Run(tc.alg, func(b *testing.B) { benchColdVerify(b, tc.alg, tc.key) })
	}
}

// typicalClaims is a claim set as an IdP issues it for an API call.
func typicalClaims() map[string]any {
	c := claimsAt(testNow)
	c["email"] = "alice@example.com"
	c["email_verified"] = true
	c["groups"] = []string{"engineering", "oncall"}
	c["scope"] = "openid profile api:read"
	c["nbf"] = testNow.Unix()
	return c
}

func benchColdVerify(b *testing.B, alg string, key crypto.Signer) {
	pub := key.Public()
	kid := thumb(b, pub)
	tok := signToken(b, alg, key, map[string]any{"kid": kid}, typicalClaims())
	base := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{alg}}

	pemIC := base
	pemIC.PublicKeys = [][]byte{publicPEM(b, pub)}
	pemV := newTestVerifier(b, Options{Issuers: []IssuerConfig{pemIC}, CacheSize: -1})

	srv := newJWKSServer(b, jwksJSON(b, []string{kid}, pub))
	jwksIC := base
	jwksIC.JWKSURL = srv.URL + "/jwks.json"
	jwksV := newTestVerifier(b, Options{Issuers: []IssuerConfig{jwksIC}, CacheSize: -1})
	waitReady(b, jwksV)

	static, err := jwk.Parse(jwksJSON(b, []string{kid}, pub))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cache := jwk.NewCache(ctx)
	if err := cache.Register(jwksIC.JWKSURL, jwk.WithMinRefreshInterval(time.Minute)); err != nil {
		b.Fatal(err)
	}
	if _, err := cache.Refresh(ctx, jwksIC.JWKSURL); err != nil {
		b.Fatal(err)
	}

	run := func(name string, verify func() error) {
		b.Run(name, func(b *testing.B) {
			if err := verify(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("gatehouse/pem", func() error { _, err := pemV.Verify(ctx, tok); return err })
	run("gatehouse/jwks", func() error { _, err := jwksV.Verify(ctx, tok); return err })
	run("jwx/pem", func() error {
		_, err := jwxVerify(ctx, pemV, tok, func() (jwk.Set, error) { return static, nil })
		return err
	})
	run("jwx/jwk.Cache", func() error {
		_, err := jwxVerify(ctx, pemV, tok, func() (jwk.Set, error) { return cache.Get(ctx, jwksIC.JWKSURL) })
		return err
	})
	is := pemV.issuers[testIssuer]
	ownKeys := jws.KeyProviderFunc(func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		h := sig.ProtectedHeaders()
		keys, _ := is.static.candidates(h.KeyID(), h.Algorithm().String())
		for _, k := range keys {
			sink.Key(h.Algorithm(), k.raw)
		}
		return nil
	})
	run("jwx/own-keys", func() error {
		_, err := jwxVerifyWith(ctx, pemV, tok, jwt.WithKeyProvider(ownKeys), nil)
		return err
	})
	run("jws/own-keys", func() error {
		_, err := jwxVerifyWith(ctx, pemV, tok, nil, jws.WithKeyProvider(ownKeys))
		return err
	})
	run("jwx/parse-only", func() error {
		_, err := jwt.Parse([]byte(tok), jwxOptions(pemV, pemV.issuers[testIssuer], static)...)
		return err
	})
}

// jwxOptions are the jwt.Parse options that do what jwx can do itself:
// signature with the issuer's key set (kid lookup, algorithm from the key
// family), exp/nbf/iat with leeway, iss, aud, exp and sub required.
func jwxOptions(v *Verifier, is *issuer, set jwk.Set) []jwt.ParseOption {
	now := v.now()
	opts := []jwt.ParseOption{
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(v.leeway),
		jwt.WithIssuer(is.name),
		jwt.WithAudience(is.audiences[0]),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sub"),
	}
	if set != nil {
		opts = append(opts, jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)))
	}
	return opts
}

// jwxVerify is the jwx-based cold path as it would ship: the checks jwx
// does not make (16 KiB cap, typ allow-list, repeated member names, crit,
// alg allow-list before any key is used, exp numeric, max_lifetime, exact
// claim values, email_verified, claim mapping) stay around jwt.Parse.
// jwt.Token keeps exp as time.Time and drops repeated names, so the raw
// claim set is still decoded once for them.
func jwxVerify(ctx context.Context, v *Verifier, token string, keys func() (jwk.Set, error)) (*auth.Identity, error) {
	set, err := keys()
	if err != nil {
		return nil, &auth.Error{Kind: auth.ErrUnavailable, Description: "signing keys unavailable"}
	}
	return jwxVerifyWith(ctx, v, token, jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)), nil)
}

// jwxVerifyWith is jwxVerify with the key option given: a jwk.Set (jwx
// selects by kid and converts the jwk.Key on every verify) or a key
// provider handing over keys converted once at load, as Gatehouse's do.
// With keyOpt nil, jws.Verify with jwsOpt checks the signature alone and
// Gatehouse's own claim checks do the rest.
func jwxVerifyWith(ctx context.Context, v *Verifier, token string, keyOpt jwt.ParseOption, jwsOpt jws.VerifyOption) (*auth.Identity, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("token too large")
	}
	hdrPart, rest, _ := strings.Cut(token, ".")
	payPart, _, _ := strings.Cut(rest, ".")
	hdr, err := v.decodeHeader(hdrPart)
	if err != nil {
		return nil, err
	}
	payload, err := b64.DecodeString(payPart)
	if err != nil {
		return nil, invalid("malformed token")
	}
	if checkUnique(payload) != nil {
		return nil, invalid("repeated claim name")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, invalid("malformed token")
	}
	iss, _ := claims["iss"].(string)
	is := v.issuers[iss]
	if is == nil {
		return nil, invalid("unknown issuer")
	}
	if !is.algorithms[hdr.alg] {
		return nil, invalid("algorithm not allowed")
	}
	if keyOpt == nil {
		if _, err := jws.Verify([]byte(token), jwsOpt); err != nil {
			return nil, invalid("signature invalid")
		}
	} else if _, err := jwt.Parse([]byte(token), append(jwxOptions(v, is, nil), keyOpt)...); err != nil {
		return nil, invalid("token invalid")
	}
	// identity re-checks exp/nbf/iat/aud (a few comparisons) besides the
	// rules jwx lacks; a shipped version would skip those four.
	return v.identity(is, claims, v.now())
}

// TestJWXVerifyAgrees checks that the two paths BenchmarkColdVerify
// compares do the same work: the same identity for a good token, a refusal
// for each bad one.
func TestJWXVerifyAgrees(t *testing.T) {
	testKeys(t)
	pub := ecKey.Public()
	kid := thumb(t, pub)
	ic := IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		PublicKeys: [][]byte{publicPEM(t, pub)}}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}, CacheSize: -1})
	set, err := jwk.Parse(jwksJSON(t, []string{kid}, pub))
	if err != nil {
		t.Fatal(err)
	}
	keys := func() (jwk.Set, error) { return set, nil }
	ctx := context.Background()

	good := signToken(t, "ES256", ecKey, map[string]any{"kid": kid}, typicalClaims())
	want, err := v.Verify(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jwxVerify(ctx, v, good, keys)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != want.Subject || got.Email != want.Email || len(got.Groups) != len(want.Groups) ||
		len(got.Scopes) != len(want.Scopes) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("jwx identity %+v, want %+v", got, want)
	}

	bad := map[string]func(c map[string]any){
		"expired":      func(c map[string]any) { c["exp"] = testNow.Add(-time.Minute).Unix() },
		"not yet":      func(c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() },
		"audience":     func(c map[string]any) { c["aud"] = "other" },
		"no exp":       func(c map[string]any) { delete(c, "exp") },
		"string exp":   func(c map[string]any) { c["exp"] = "1900000000" },
		"control char": func(c map[string]any) { c["email"] = "a@b\n" },
	}
	for name, mutate := range bad {
		c := typicalClaims()
		mutate(c)
		tok := signToken(t, "ES256", ecKey, map[string]any{"kid": kid}, c)
		if _, err := v.Verify(ctx, tok); err == nil {
			t.Errorf("%s: Verify accepted it", name)
		}
		if _, err := jwxVerify(ctx, v, tok, keys); err == nil {
			t.Errorf("%s: jwxVerify accepted it", name)
		}
	}
	forged := signToken(t, "ES256", attackerKey, map[string]any{"kid": kid}, typicalClaims())
	if _, err := jwxVerify(ctx, v, forged, keys); err == nil {
		t.Error("jwxVerify accepted a token signed with another key")
	}
}
