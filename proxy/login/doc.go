// Package login serves Gatehouse's reserved browser endpoints under
// /.gatehouse/: the login form, logout, and userinfo (README "Browser sign-in and sessions"),
// with SafeRedirect, which keeps the post-login redirect on this host.
// Password attempts run under proxy/passwords' Limiter, shared with the
// token endpoint.
package login
