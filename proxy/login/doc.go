// Package login serves Gatehouse's reserved browser endpoints under
// /.gatehouse/: the login form, logout, and userinfo (PRODUCT.md §3). It
// also owns the login Limiter shared with the token endpoint (attempts
// counted before the password check, a bound on concurrent checks), and
// SafeRedirect, which keeps the post-login redirect on this host.
package login
