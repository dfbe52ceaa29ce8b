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
// family's password grant is refused, and so is one of a family older than
// MaxLifetime (jwt.issue.refresh_max_lifetime): no refresh token outlives
// its family's maximum lifetime. The users files are the truth: with
// Options.Users, each refresh looks the user up in the current users
// directory; a user who is gone, or whose password hash differs from the
// one the family's grant was checked against (a fingerprint kept in the
// family's records), is refused and the family revoked; otherwise the new
// tokens carry the directory's email and groups. Refresh tokens are not JWTs and
// access tokens are not 43-character opaque strings, so neither is ever
// accepted as the other.
package refresh
