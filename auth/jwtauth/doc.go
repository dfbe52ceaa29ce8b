// Package jwtauth verifies Bearer JWTs for Gatehouse and signs Gatehouse's
// own tokens.
//
// A Verifier trusts a fixed list of issuers, each with its own keys (a JWKS
// URL, PEM public keys, an HMAC secret, or a static jwk.Set) and algorithm
// allow-list. It never trusts keys or key locations carried in a token's
// header (jwk, jku, x5u, x5c), never accepts "none", and never uses an
// asymmetric key as an HMAC secret. Verified tokens are cached by the
// SHA-256 of the token string; a cache hit still checks expiry and
// revocation.
//
// A Signer holds Gatehouse's issuing key (ES256, EdDSA or RS256) and the
// previous keys that stay published in its JWKS.
package jwtauth
