// Package tokens serves Gatehouse's OAuth2 endpoints for public clients
// under /.gatehouse/ (README "Token service"): the token endpoint (password and
// refresh_token grants, RFC 6749), token revocation (RFC 7009) and the
// JWKS of the issuing keys. The grants themselves are auth/refresh's; this
// package is the HTTP surface: form parsing, rate limits, RFC 6749 §5.2
// errors, metrics and audit lines.
package tokens
