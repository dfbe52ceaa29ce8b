// Package auth decides who is calling: it verifies Bearer JWTs (HMAC, PEM
// keys, JWKS), manages server-side sessions and login users, and answers
// revocation questions from a Store. It knows nothing of routes or HTTP
// status codes; the proxy package maps its errors onto responses.
//
// Every credential check ends in one of three ways, told apart with
// errors.Is: ErrNoCredentials (nothing presented), ErrInvalid or ErrRevoked
// (presented and refused), ErrUnavailable (the store could not answer).
package auth
