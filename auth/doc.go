// Package auth decides who is calling: it verifies Bearer JWTs (HMAC, PEM
// keys, JWKS), manages server-side sessions and login users, and answers
// revocation questions from a Store. It knows nothing of routes or HTTP
// status codes; the proxy package maps its errors onto responses.
//
// Every credential check ends in one of three ways, told apart with
// errors.Is: ErrNoCredentials (nothing presented), ErrInvalid or ErrRevoked
// (presented and refused), ErrUnavailable (the store could not answer).
//
// One vocabulary throughout: Verify turns a token (a JWT, an identity
// assertion) into an Identity (jwtauth.Verifier, assertion.Verifier);
// Authenticate turns a request into one by its session cookie
// (session.Manager); CheckPassword checks a username and password
// (users.Directory, users.Watcher) and yields a users.User, not an
// Identity. The proxy's Decide combines them for a route.
package auth
