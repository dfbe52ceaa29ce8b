// Package assertion is Gatehouse's identity assertion (README "Identity assertion for upstreams"): a
// short-lived JWT of the caller's identity that the proxy signs with its
// issuing key and sends upstream in a header (identity_headers.assertion),
// and the http.Handler middleware an upstream written in Go uses to verify
// it.
//
// An assertion carries iss (jwt.issue.issuer), aud (the route name), sub,
// email, groups, auth ("session" or "jwt"), iat, exp (60 s after iat) and
// jti, and its header names the signing key's kid (RFC 7638 thumbprint)
// from the JWKS at /.gatehouse/jwks.json. Because aud is the route name, an
// assertion captured by one upstream cannot be replayed to another route's
// upstream. Its JOSE header typ is "gh-assertion+jwt": the middleware
// accepts nothing else (not Gatehouse's access tokens, typed "at+jwt"), and
// Gatehouse never accepts an assertion as a Bearer token.
package assertion
