package jwtauth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AlgorithmKeyError is an allowed algorithm that none of an issuer's static
// keys (PEM public keys, HMAC secret or Keys) can verify: every token
// signed with it would be refused. NewVerifier returns one per such
// algorithm (joined), each wrapped with its issuer.
type AlgorithmKeyError struct {
	Issuer    int      // index of the issuer in Options.Issuers
	Index     int      // index of the algorithm in IssuerConfig.Algorithms
	Algorithm string   // e.g. "ES256"
	Keys      []string // the issuer's keys, described: "RSA 2048", "EC P-256", "Ed25519", "HMAC secret"
	Need      string   // the key that would verify Algorithm: "an EC P-256 key", "an RSA key", …
}

func (e *AlgorithmKeyError) Error() string { return e.Explain("the issuer's keys") }

// Explain says what is wrong and how to fix it, calling the issuer's keys
// by source (e.g. the config key "public_key_files"):
// "ES256 has no key among public_key_files (the keys are: RSA 2048); remove
// ES256 or add an EC P-256 key".
func (e *AlgorithmKeyError) Explain(source string) string {
	are := "keys are"
	if len(e.Keys) == 1 {
		are = "key is"
	}
	return fmt.Sprintf("%s has no key among %s (the %s: %s); remove %s or add %s",
		e.Algorithm, source, are, strings.Join(e.Keys, ", "), e.Algorithm, e.Need)
}

// checkAlgorithmKeys returns an *AlgorithmKeyError for each of algs (known
// algorithms) that no key in keys can verify, joined; nil when every one
// has a key.
func checkAlgorithmKeys(algs []string, keys []*verifyKey) error {
	var errs []error
	for i, alg := range algs {
		if slices.ContainsFunc(keys, func(k *verifyKey) bool { return k.allows(alg) }) {
			continue
		}
		errs = append(errs, &AlgorithmKeyError{Index: i, Algorithm: alg, Keys: describeKeys(keys), Need: keyNeeded(alg)})
	}
	return errors.Join(errs...)
}

// describeKeys names each distinct key type and size in keys, in order.
func describeKeys(keys []*verifyKey) []string {
	var out []string
	for _, k := range keys {
		var d string
		switch k.kind {
		case kindRSA:
			d = "RSA"
			if pk, ok := k.raw.(*rsa.PublicKey); ok {
				d = fmt.Sprintf("RSA %d", pk.N.BitLen())
			}
		case kindEC:
			d = "EC " + k.curve.Params().Name
		case kindEd25519:
			d = "Ed25519"
		case kindHMAC:
			d = "HMAC secret"
		}
		if k.alg != "" {
			d += " (" + k.alg + " only)"
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = []string{"none"}
	}
	return out
}

// keyNeeded names the key that verifies alg.
func keyNeeded(alg string) string {
	a := algKinds[alg]
	switch a.kind {
	case kindRSA:
		return "an RSA key (2048 bits or more)"
	case kindEC:
		return "an EC " + a.curve.Params().Name + " key"
	case kindEd25519:
		return "an Ed25519 key"
	case kindHMAC:
		return "an HMAC secret"
	}
	return "a key for it"
}

// splitJoined returns the errors joined in err (errors.Join), or err alone.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
