package main

// Cross-check: Gatehouse's access tokens and identity assertions verified by
// an implementation nobody here wrote (github.com/golang-jwt/jwt/v5), with
// keys converted by hand from the JWKS Gatehouse serves (no jwx).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// publicKeyFromJWK converts a JWK's kty/crv/x/y/n/e members to a crypto
// public key, and round-trips it through crypto/x509 as a sanity check.
func publicKeyFromJWK(k map[string]any) (crypto.PublicKey, error) {
	field := func(name string) ([]byte, error) {
		s, _ := k[name].(string)
		if s == "" {
			return nil, fmt.Errorf("jwk member %q missing", name)
		}
		return base64.RawURLEncoding.DecodeString(s)
	}
	var pub crypto.PublicKey
	switch k["kty"] {
	case "EC":
		if k["crv"] != "P-256" {
			return nil, fmt.Errorf("unexpected curve %v", k["crv"])
		}
		x, err := field("x")
		if err != nil {
			return nil, err
		}
		y, err := field("y")
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("P-256 coordinates of %d and %d bytes", len(x), len(y))
		}
		pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
	case "OKP":
		x, err := field("x")
		if err != nil || k["crv"] != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("bad Ed25519 JWK: %v", err)
		}
		pub = ed25519.PublicKey(x)
	case "RSA":
		n, err := field("n")
		if err != nil {
			return nil, err
		}
		e, err := field("e")
		if err != nil {
			return nil, err
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	default:
		return nil, fmt.Errorf("unexpected kty %v", k["kty"])
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return x509.ParsePKIXPublicKey(der)
}

func TestCrossCheckGolangJWT(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			in := startTokens(t, alg)
			keys := map[string]crypto.PublicKey{}
			for _, k := range jwksKeys(t, in) {
				pub, err := publicKeyFromJWK(k)
				if err != nil {
					t.Fatalf("convert JWK: %v", err)
				}
				if k["alg"] != alg || k["use"] != "sig" {
					t.Errorf("JWK alg %v use %v, want %s sig", k["alg"], k["use"], alg)
				}
				keys[k["kid"].(string)] = pub
			}
			keyfunc := func(tok *jwt.Token) (any, error) {
				kid, _ := tok.Header["kid"].(string)
				if k, ok := keys[kid]; ok {
					return k, nil
				}
				return nil, fmt.Errorf("unknown kid %q", kid)
			}
			access, _ := passwordGrant(t, in)
			status, seen := callAPI(t, in, "/api/x", access)
			if status != http.StatusOK {
				t.Fatalf("GET /api/x: got %d, want 200", status)
			}
			cases := []struct {
				name, token, aud string
				ok               bool
			}{
				{"access token", access, "gatehouse", true},
				{"assertion", seen.Get("X-Auth-Assertion"), "api", true},
				{"assertion for another route", seen.Get("X-Auth-Assertion"), "wiki", false},
				{"tampered access token", tamper(access), "gatehouse", false},
			}
			for _, c := range cases {
				claims := jwt.MapClaims{}
				_, err := jwt.ParseWithClaims(c.token, claims, keyfunc, jwt.WithValidMethods([]string{alg}),
					jwt.WithIssuer("http://gatehouse.test"), jwt.WithAudience(c.aud),
					jwt.WithExpirationRequired(), jwt.WithIssuedAt())
				if (err == nil) != c.ok {
					t.Errorf("%s: golang-jwt error %v, want ok=%v", c.name, err, c.ok)
					continue
				}
				if c.ok && (claims["sub"] != "alice" || claims["email"] != "alice@example.com" || claims["jti"] == nil) {
					t.Errorf("%s: got claims %v, want sub alice, her email and a jti", c.name, claims)
				}
			}
		})
	}
}

// tamper changes one character of the payload.
func tamper(tok string) string {
	b := []byte(tok)
	for i := range b {
		if b[i] == '.' {
			b[i+5] ^= 1
			break
		}
	}
	return string(b)
}
