package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const acceptedSigningKeys = "EC P-256 (ES256), Ed25519 (EdDSA) or RSA of at least 2048 bits (RS256)"

// Signer signs tokens with Gatehouse's current issuing key and publishes
// the public halves of the current and previous keys. It is immutable and
// safe for concurrent use; a nil *Signer is not valid.
type Signer struct {
	alg       string
	kid       string
	key       crypto.Signer
	signer    jws.Signer
	headers   map[string]string // typ → base64url of the protected header, for TypeAccess and TypeAssertion
	publicSet jwk.Set           // never handed out; PublicKeys returns clones
}

// NewSigner parses current, the PEM private key that signs (PKCS#8
// "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY"), and previous, keys
// that are published for verification but never sign (private or public
// PEM). Accepted keys: EC P-256 → ES256, Ed25519 → EdDSA, RSA ≥ 2048 bits →
// RS256.
func NewSigner(current []byte, previous [][]byte) (*Signer, error) {
	priv, err := parsePrivatePEM(current)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	alg, err := signingAlgorithm(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s := &Signer{alg: alg, key: priv, publicSet: jwk.NewSet()}
	if s.signer, err = jws.NewSigner(jwa.SignatureAlgorithm(alg)); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if s.kid, err = s.addPublic(priv.Public(), alg); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	for i, data := range previous {
		pub, err := parsePreviousPEM(data)
		if err != nil {
			return nil, &PreviousKeyError{Index: i, Err: err}
		}
		palg, err := signingAlgorithm(pub)
		if err != nil {
			return nil, &PreviousKeyError{Index: i, Err: err}
		}
		if _, err := s.addPublic(pub, palg); err != nil {
			return nil, &PreviousKeyError{Index: i, Err: err}
		}
	}
	s.headers = map[string]string{TypeAccess: s.header(TypeAccess), TypeAssertion: s.header(TypeAssertion)}
	return s, nil
}

// header returns the base64url protected header of a token of type typ.
func (s *Signer) header(typ string) string {
	if h, ok := s.headers[typ]; ok {
		return h
	}
	hdr, _ := json.Marshal(map[string]string{"alg": s.alg, "kid": s.kid, "typ": typ}) // strings always marshal
	return b64.EncodeToString(hdr)
}

// PreviousKeyError is NewSigner's error for a bad previous key: Index is
// its position in the previous list.
type PreviousKeyError struct {
	Index int
	Err   error
}

func (e *PreviousKeyError) Error() string { return fmt.Sprintf("previous key %d: %v", e.Index, e.Err) }
func (e *PreviousKeyError) Unwrap() error { return e.Err }

// addPublic publishes pub with kid (its thumbprint), alg and use=sig.
func (s *Signer) addPublic(pub crypto.PublicKey, alg string) (string, error) {
	jk, err := jwk.FromRaw(pub)
	if err != nil {
		return "", err
	}
	kid, err := Thumbprint(jk)
	if err != nil {
		return "", err
	}
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.SignatureAlgorithm(alg), jwk.KeyUsageKey: jwk.ForSignature} {
		if err := jk.Set(k, v); err != nil {
			return "", err
		}
	}
	if _, dup := s.publicSet.LookupKeyID(kid); dup {
		return kid, nil
	}
	return kid, s.publicSet.AddKey(jk)
}

// signingAlgorithm maps an accepted public key to its algorithm.
func signingAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ES256", nil
		}
		return "", fmt.Errorf("EC curve %s is not accepted; use %s", k.Curve.Params().Name, acceptedSigningKeys)
	case ed25519.PublicKey:
		return "EdDSA", nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= minRSABits {
			return "RS256", nil
		}
		return "", fmt.Errorf("RSA key of %d bits is too weak; use %s", k.N.BitLen(), acceptedSigningKeys)
	}
	return "", fmt.Errorf("key type %T is not accepted; use %s", pub, acceptedSigningKeys)
}

// parsePrivatePEM reads the first PEM block as a private key.
func parsePrivatePEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q; want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY holding %s", block.Type, acceptedSigningKeys)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T is not accepted; use %s", key, acceptedSigningKeys)
	}
	return signer, nil
}

// parsePreviousPEM reads a previous key, private or public, and returns
// its public half.
func parsePreviousPEM(data []byte) (crypto.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if pubs, err := parsePublicPEM(pem.EncodeToMemory(block)); err == nil {
			return pubs[0], nil
		}
	}
	priv, err := parsePrivatePEM(data)
	if err != nil {
		return nil, err
	}
	return priv.Public(), nil
}

// Algorithm returns the signing algorithm: "ES256", "EdDSA" or "RS256".
func (s *Signer) Algorithm() string { return s.alg }

// KeyID returns the RFC 7638 thumbprint of the current public key, the kid
// of every token s signs.
func (s *Signer) KeyID() string { return s.kid }

// PublicKeys returns a new set with the current and previous public keys,
// each with kid, alg and use=sig. The caller may modify it.
func (s *Signer) PublicKeys() jwk.Set {
	set, err := s.publicSet.Clone()
	if err != nil { // Clone of an in-memory set does not fail
		panic(fmt.Sprintf("jwtauth: clone public keys: %v", err))
	}
	return set
}

// Sign returns a compact JWS of claims with header typ at+jwt (an access
// token, RFC 9068), alg and kid.
func (s *Signer) Sign(claims map[string]any) (string, error) {
	return s.SignType(TypeAccess, claims)
}

// SignType is Sign with header typ set to typ, e.g. TypeAssertion.
func (s *Signer) SignType(typ string, claims map[string]any) (string, error) {
	if typ == "" {
		return "", errors.New("sign: empty token type")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	input := s.header(typ) + "." + b64.EncodeToString(payload)
	sig, err := s.signer.Sign([]byte(input), s.key)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Claims describes a token for Mint. Issuer, Audience and Subject are
// required and TTL must be positive; zero Now means time.Now. Extra may not
// set the claims Mint sets itself. Type is the header typ; "" means
// TypeAccess.
type Claims struct {
	Issuer, Audience, Subject string
	TTL                       time.Duration
	Extra                     map[string]any
	Now                       time.Time
	Type                      string
}

// Mint signs a token of type c.Type with iss, aud, sub, iat, exp (iat +
// TTL, whole seconds), a random 128-bit jti (base64url) and c.Extra.
func (s *Signer) Mint(c Claims) (token, jti string, exp time.Time, err error) {
	if c.Issuer == "" || c.Audience == "" || c.Subject == "" {
		return "", "", time.Time{}, errors.New("mint: issuer, audience and subject are required")
	}
	if c.TTL <= 0 {
		return "", "", time.Time{}, fmt.Errorf("mint: ttl %s is not positive", c.TTL)
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	var buf [16]byte
	rand.Read(buf[:])
	jti = b64.EncodeToString(buf[:])
	iat := now.Unix()
	exp = time.Unix(iat, 0).Add(c.TTL).Truncate(time.Second)
	claims := make(map[string]any, len(c.Extra)+6)
	for k, v := range c.Extra {
		claims[k] = v
	}
	for k, v := range map[string]any{"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "iat": iat, "exp": exp.Unix(), "jti": jti} {
		if _, set := claims[k]; set {
			return "", "", time.Time{}, fmt.Errorf("mint: extra claim %q is set by Mint", k)
		}
		claims[k] = v
	}
	typ := c.Type
	if typ == "" {
		typ = TypeAccess
	}
	if token, err = s.SignType(typ, claims); err != nil {
		return "", "", time.Time{}, fmt.Errorf("mint: %w", err)
	}
	return token, jti, exp, nil
}
