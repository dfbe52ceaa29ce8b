// Package refresh issues and rotates Gatehouse's OAuth2 token pairs: a
// short-lived access JWT signed by jwtauth.Signer and an opaque refresh
// token (256 random bits, base64url) stored only under its SHA-256.
//
// Every refresh token belongs to a family: the password grant starts one
// and each rotation adds the next token to it. A refresh token is spent on
// first use; presenting it again is reuse, taken as theft: the whole
// family is revoked — its live refresh token is dropped and every access
// token issued from it that has not expired is written to the public
// revocation list (revoked:jti:<jti> until its exp), which every verifier
// already consults. No new claim or key is needed to check a family.
//
// A refresh token of a subject revoked (revoked:sub) at or after the
// family's password grant is refused. Refresh tokens are not JWTs and
// access tokens are not 43-character opaque strings, so neither is ever
// accepted as the other.
package refresh
