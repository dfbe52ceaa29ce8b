// Package login serves Gatehouse's reserved browser endpoints under
// /.gatehouse/: the login form, logout, and userinfo (PRODUCT.md §3). It
// also owns the failed-login rate Limiter shared with the token endpoint,
// and SafeRedirect, which keeps the post-login redirect on this host.
package login
