package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// keyKind is the family of a verification key; an algorithm only ever
// meets keys of its own family.
type keyKind int

const (
	kindHMAC keyKind = iota + 1
	kindRSA
	kindEC
	kindEd25519
)

// minRSABits is the smallest RSA modulus accepted for signing or verifying.
const minRSABits = 2048

// algorithms is every supported algorithm, in the order messages list
// them, with the key family it needs and, for ECDSA, the curve.
var algorithms = []struct {
	name  string
	kind  keyKind
	curve elliptic.Curve
}{
	{"HS256", kindHMAC, nil}, {"HS384", kindHMAC, nil}, {"HS512", kindHMAC, nil},
	{"RS256", kindRSA, nil}, {"RS384", kindRSA, nil}, {"RS512", kindRSA, nil},
	{"PS256", kindRSA, nil}, {"PS384", kindRSA, nil}, {"PS512", kindRSA, nil},
	{"ES256", kindEC, elliptic.P256()}, {"ES384", kindEC, elliptic.P384()}, {"ES512", kindEC, elliptic.P521()},
	{"EdDSA", kindEd25519, nil},
}

// algKinds maps every supported algorithm to its key family and curve.
var algKinds = func() map[string]algKind {
	m := make(map[string]algKind, len(algorithms))
	for _, a := range algorithms {
		m[a.name] = algKind{kind: a.kind, curve: a.curve}
	}
	return m
}()

type algKind struct {
	kind  keyKind
	curve elliptic.Curve
}

// HMACAlgorithms returns the supported algorithms that verify with a
// shared secret (HS256, HS384, HS512).
func HMACAlgorithms() []string { return algorithmNames(true) }

// PublicKeyAlgorithms returns the supported algorithms that verify with a
// public key (RSA, RSA-PSS, ECDSA, EdDSA).
func PublicKeyAlgorithms() []string { return algorithmNames(false) }

func algorithmNames(hmac bool) []string {
	var out []string
	for _, a := range algorithms {
		if (a.kind == kindHMAC) == hmac {
			out = append(out, a.name)
		}
	}
	return out
}

// verifiers holds one jws.Verifier per supported algorithm. They are
// stateless and safe for concurrent use.
var verifiers = func() map[string]jws.Verifier {
	m := make(map[string]jws.Verifier, len(algKinds))
	for alg := range algKinds {
		v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		if err != nil {
			panic(fmt.Sprintf("jwtauth: jwx has no verifier for %s: %v", alg, err))
		}
		m[alg] = v
	}
	return m
}()

// supportedAlgorithms lists algKinds for error messages.
func supportedAlgorithms() string {
	names := make([]string, 0, len(algKinds))
	for alg := range algKinds {
		names = append(names, alg)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// verifyKey is a key converted once, at load, to what jws verifiers take.
type verifyKey struct {
	kid    string // the JWKS kid, or the RFC 7638 thumbprint
	anyKid bool   // an HMAC secret from config: it has no name, so any kid may select it
	alg    string // the JWK's alg member; "" allows any algorithm of the key's family
	kind   keyKind
	curve  elliptic.Curve // for kindEC
	raw    any            // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// allows reports whether alg may be verified with k: same family, same
// curve, and the key's own alg if it names one.
func (k *verifyKey) allows(alg string) bool {
	want, ok := algKinds[alg]
	if !ok || want.kind != k.kind || (k.alg != "" && k.alg != alg) {
		return false
	}
	return want.kind != kindEC || want.curve == k.curve
}

// keySet is an immutable set of an issuer's keys.
type keySet struct {
	keys  []*verifyKey
	byKid map[string][]*verifyKey
}

func newKeySet(keys []*verifyKey) *keySet {
	ks := &keySet{keys: keys, byKid: make(map[string][]*verifyKey, len(keys))}
	for _, k := range keys {
		ks.byKid[k.kid] = append(ks.byKid[k.kid], k)
	}
	return ks
}

// candidates returns the keys that may have signed a token with this kid
// and alg, and whether kid named a key of the set (always true without kid).
func (ks *keySet) candidates(kid, alg string) (keys []*verifyKey, known bool) {
	pool := ks.keys
	known = true
	if kid != "" {
		pool = ks.byKid[kid]
		known = len(pool) > 0
		for _, k := range ks.keys {
			if k.anyKid && k.kid != kid {
				pool = append(pool[:len(pool):len(pool)], k)
			}
		}
	}
	for _, k := range pool {
		if k.allows(alg) {
			keys = append(keys, k)
		}
	}
	return keys, known
}

// newVerifyKey converts a public key (or HMAC secret) and names it by its
// RFC 7638 thumbprint unless kid is given.
func newVerifyKey(raw any, kid, alg string) (*verifyKey, error) {
	k := &verifyKey{kid: kid, alg: alg, raw: raw}
	switch key := raw.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too weak; use at least %d", key.N.BitLen(), minRSABits)
		}
		k.kind = kindRSA
	case *ecdsa.PublicKey:
		k.kind, k.curve = kindEC, key.Curve
		if key.Curve != elliptic.P256() && key.Curve != elliptic.P384() && key.Curve != elliptic.P521() {
			return nil, errors.New("unsupported EC curve; use P-256, P-384 or P-521")
		}
	case ed25519.PublicKey:
		k.kind = kindEd25519
	case []byte:
		k.kind = kindHMAC
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	if alg != "" {
		if _, ok := algKinds[alg]; !ok || !k.allows(alg) {
			return nil, fmt.Errorf("key alg %q does not fit a key of this type", alg)
		}
	}
	if k.kid == "" {
		tp, err := Thumbprint(raw)
		if err != nil {
			return nil, err
		}
		k.kid = tp
	}
	return k, nil
}

// Thumbprint returns the RFC 7638 thumbprint (SHA-256, base64url without
// padding) of key: a crypto public or private key, a jwk.Key, or an HMAC
// secret as []byte. For a private key it is the thumbprint of its public
// half.
func Thumbprint(key any) (string, error) {
	jk, ok := key.(jwk.Key)
	if !ok {
		var err error
		if jk, err = jwk.FromRaw(key); err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
	}
	if jk.KeyType() != "oct" {
		pub, err := jwk.PublicKeyOf(jk)
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		jk = pub
	}
	sum, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// parsePublicPEM returns every public key in a PEM document: PUBLIC KEY
// (RSA, EC, Ed25519), RSA PUBLIC KEY or CERTIFICATE blocks.
func parsePublicPEM(data []byte) ([]any, error) {
	var keys []any
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		key, err := parsePublicBlock(block)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return keys, nil
}

func parsePublicBlock(block *pem.Block) (any, error) {
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PUBLIC KEY: %w", err)
		}
		return key, nil
	case "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse RSA PUBLIC KEY: %w", err)
		}
		return key, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse CERTIFICATE: %w", err)
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q; want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
}

// jwkKeys converts the keys of a jwk.Set, returning the usable keys and
// one error per key it could not use. With remote true (a JWKS fetched over
// the network) symmetric keys are refused, since a published document
// cannot hold a secret. Keys whose use is not "sig" are skipped silently.
func jwkKeys(set jwk.Set, remote bool) (keys []*verifyKey, skipped []error) {
	for i := range set.Len() {
		jk, _ := set.Key(i)
		if u := jk.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
			continue
		}
		k, err := jwkKey(jk, remote)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, jk.KeyID(), err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped
}

func jwkKey(jk jwk.Key, remote bool) (*verifyKey, error) {
	if jk.KeyType() == "oct" {
		if remote {
			return nil, errors.New("symmetric keys are not accepted from a JWKS URL")
		}
	} else {
		pub, err := jwk.PublicKeyOf(jk)
		if err != nil {
			return nil, err
		}
		jk = pub
	}
	var raw any
	if err := jk.Raw(&raw); err != nil {
		return nil, err
	}
	alg := ""
	if a := jk.Algorithm(); a != nil {
		alg = a.String()
	}
	return newVerifyKey(raw, jk.KeyID(), alg)
}
