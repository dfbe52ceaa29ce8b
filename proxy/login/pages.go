package login

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// style is the pages' only CSS; the Content-Security-Policy allows exactly
// this block by its hash, and no script at all.
const style = `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d1d1f}
main{max-width:22rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin:0 0 1.2rem}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;border:1px solid #8a8f98;border-radius:4px}
button{margin-top:1.3rem;width:100%;padding:.65rem;font-size:1rem;border:0;border-radius:4px;background:#1f5fbf;color:#fff;cursor:pointer}
button:focus,input:focus{outline:3px solid #f0a000;outline-offset:1px}
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:4px}`

// contentSecurityPolicy forbids scripts, frames, plug-ins and every
// external resource; forms may only post back to this origin.
var contentSecurityPolicy = "default-src 'none'; style-src 'sha256-" + styleHash() +
	"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(style))
	return base64.StdEncoding.EncodeToString(sum[:])
}

var pages = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .Message}}<p class="error" role="alert">{{.Message}}</p>{{end}}
{{if eq .Kind "login"}}<form method="post" action="/.gatehouse/login">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="rd" value="{{.Redirect}}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{else if eq .Kind "logout"}}<form method="post" action="/.gatehouse/logout">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<p>Do you want to sign out?</p>
<button type="submit">Sign out</button>
</form>
{{end}}
</main>
</body>
</html>
`))

// page is what the template renders. Kind is "login", "logout" or
// "message" (Message only).
type page struct {
	Kind     string
	Title    string
	Message  string
	CSRF     string
	Redirect string
	Style    template.CSS
}

// setSecurityHeaders sets the headers every reserved-path response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

// render writes p as an HTML page with status.
func render(w http.ResponseWriter, status int, p page) {
	p.Style = template.CSS(style)
	var buf bytes.Buffer
	if err := pages.Execute(&buf, p); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
