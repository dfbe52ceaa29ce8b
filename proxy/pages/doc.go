// Package pages renders Gatehouse's own HTML pages: the sign-in page, the
// sign-out page and the error page shown to browser navigations, all in one
// style and under one strict Content-Security-Policy (no script at all; the
// only style is the stylesheet's hash; images only from the configured
// logo's origin). The built-in templates are embedded; login.templates_dir
// may override any of login.html, logout.html and error.html (and the
// shared base.html and style.css). A Set is parsed and checked once per
// config load.
//
// proxy/login renders through it, and the proxy's JSON errors become error
// pages for browser navigations through httpx.WithErrorPages.
package pages
