// Package jwtauth verifies Bearer JWTs for Gatehouse and signs Gatehouse's
// own tokens.
//
// A Verifier trusts a fixed list of issuers, each with its own keys (a JWKS
// URL, PEM public keys, an HMAC secret, or a static jwk.Set) and algorithm
// allow-list. It never trusts keys or key locations carried in a token's
// header (jwk, jku, x5u, x5c), never accepts "none", and never uses an
// asymmetric key as an HMAC secret. Tokens are typed (RFC 8725 §3.11): a
// Bearer verifier accepts no typ, "JWT" or "at+jwt" and nothing else (an
// identity assertion, "gh-assertion+jwt", in particular). A header or claim
// set that repeats a member name is refused, and so is a user, email or
// group value with surrounding white space or a non-printable character.
//
// Verified tokens are cached by the SHA-256 of the token string; a cache
// hit still checks expiry and revocation. The cache is bounded by the
// memory its entries keep alive (Options.CacheBytes, 32 MiB by default,
// estimated conservatively), keeps only the claims Options.KeepClaims
// asks for, and drops expired entries within about 30 s.
//
// A Signer holds Gatehouse's issuing key (ES256, EdDSA or RS256) and the
// previous keys that stay published in its JWKS.
package jwtauth
