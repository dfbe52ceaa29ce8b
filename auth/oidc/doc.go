// Package oidc is the protocol side of signing in at an external OpenID
// Provider (PRODUCT.md §9): discovery retried in the background, the
// authorization code flow with PKCE (S256), state and nonce, ID-token
// verification (issuer, audience and azp, expiry, iat, nonce, an
// asymmetric-algorithm allow-list), claims mapping with dotted paths,
// allowed_groups, and back-channel logout-token verification. Sign-ins in
// progress are kept in the session store keyed by their state (single use);
// a successful sign-in becomes an ordinary session (auth/session
// LoginExternal). The HTTP pages are in proxy/oidclogin.
package oidc
