package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The templates a Set renders, by file name.
const (
	Login  = "login.html"
	Logout = "logout.html"
	Error  = "error.html"
	// base.html defines the partials "head", "logo", "messages" and "foot"
	// that the three pages use; it may be overridden too.
	base      = "base.html"
	styleFile = "style.css"
)

//go:embed templates
var builtin embed.FS

// Options configures a Set.
type Options struct {
	// Title is login.title, the sign-in page's heading; "" means "Sign in".
	Title string
	// LogoURL is login.logo_url: an absolute https URL or a local path
	// ("/static/logo.svg"); "" shows no logo. The CSP's img-src allows its
	// origin (or 'self' for a path) and nothing else.
	LogoURL string
	// Dir is login.templates_dir: a directory whose login.html, logout.html,
	// error.html, base.html and style.css, when present, replace the
	// built-in ones. "" uses the built-in templates only.
	Dir string
	// Now is the clock for readable times; nil means time.Now.
	Now func() time.Time
	// FormActions are origins (scheme://host[:port]) the CSP's form-action
	// allows besides 'self': a logout form's POST that is redirected to an
	// IdP's end-session endpoint is blocked by the browser otherwise.
	FormActions []string
}

// Set is a parsed, checked set of page templates with their stylesheet and
// Content-Security-Policy. It is immutable and safe for concurrent use.
type Set struct {
	title, logo string
	style       template.CSS
	csp         string
	now         func() time.Time
	tmpl        map[string]*template.Template
}

// New parses the built-in templates and the overrides in o.Dir, and
// executes each page with sample data, so that a template that cannot
// render fails here (at config load) rather than in front of a user. Errors
// name the file.
func New(o Options) (*Set, error) {
	s := &Set{title: o.Title, logo: o.LogoURL, now: o.Now, tmpl: map[string]*template.Template{}}
	if s.title == "" {
		s.title = "Sign in"
	}
	if s.now == nil {
		s.now = time.Now
	}
	imgSrc, err := imageSource(o.LogoURL)
	if err != nil {
		return nil, err
	}
	files, err := sources(o.Dir)
	if err != nil {
		return nil, err
	}
	s.style = template.CSS(files[styleFile].text)
	sum := sha256.Sum256([]byte(s.style))
	s.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		imgSrc + "form-action 'self'" + formActions(o.FormActions) + "; frame-ancestors 'none'; base-uri 'none'"
	for _, name := range []string{Login, Logout, Error} {
		t := template.New(name)
		if _, err := t.New(base).Parse(files[base].text); err != nil {
			return nil, fmt.Errorf("%s: %w", files[base].path, err)
		}
		if _, err := t.Parse(files[name].text); err != nil {
			return nil, fmt.Errorf("%s: %w", files[name].path, err)
		}
		s.tmpl[name] = t
	}
	if err := s.check(files); err != nil {
		return nil, err
	}
	return s, nil
}

// source is one template or stylesheet, built in or from the directory.
type source struct{ name, path, text string }

// sources reads the built-in files and replaces each with its override in
// dir. A file in dir that is not one of the known names is an error (a
// misspelt override would otherwise be ignored silently).
func sources(dir string) (map[string]source, error) {
	out := map[string]source{}
	for _, name := range []string{base, Login, Logout, Error, styleFile} {
		b, err := builtin.ReadFile("templates/" + name)
		if err != nil {
			return nil, err
		}
		out[name] = source{name: name, path: "built-in " + name, text: string(b)}
	}
	if dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for _, e := range entries {
		if _, known := out[e.Name()]; !known {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".html") || strings.HasSuffix(e.Name(), ".css")) {
				unknown = append(unknown, e.Name())
			}
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out[e.Name()] = source{name: e.Name(), path: p, text: string(b)}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%s: unknown file %s (want login.html, logout.html, error.html, base.html or style.css)",
			dir, strings.Join(unknown, ", "))
	}
	return out, nil
}

// imageSource is the CSP img-src directive for the logo ("" without one).
func imageSource(logo string) (string, error) {
	switch {
	case logo == "":
		return "", nil
	case IsLocalPath(logo):
		return "img-src 'self'; ", nil
	}
	u, err := url.Parse(logo)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(u.Host, " ;,'\"") {
		return "", fmt.Errorf("%q is not an https URL or a local path", logo)
	}
	return "img-src https://" + u.Host + "; ", nil
}

// IsLocalPath reports whether s is a path on this host ("/x", not "//x" or
// "/\x") without spaces or control characters.
func IsLocalPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' })
}

var (
	scriptTag = regexp.MustCompile(`(?i)<script`)
	formField = func(name string) *regexp.Regexp { return regexp.MustCompile(`name=["']?` + name + `\b`) }
)

// check renders every page in each of its states with sample data. A page
// that fails, includes a script (the CSP blocks it anyway), or a sign-in or
// sign-out form without its fields is an error naming the file.
func (s *Set) check(files map[string]source) error {
	var errs []error
	for _, c := range samples(s.now()) {
		var buf bytes.Buffer
		err := s.execute(&buf, c.name, c.page)
		out := buf.String()
		var missing []string
		for _, f := range c.fields {
			if !formField(f).MatchString(out) {
				missing = append(missing, f)
			}
		}
		path := files[c.name].path
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, c.state, err))
		case scriptTag.MatchString(out):
			errs = append(errs, fmt.Errorf("%s: %s: has a <script>; the pages' Content-Security-Policy forbids scripts", path, c.state))
		case len(missing) > 0:
			errs = append(errs, fmt.Errorf("%s: %s: the form lacks the field %s (copy the form of the built-in template)",
				path, c.state, strings.Join(missing, ", ")))
		}
	}
	return errors.Join(errs...)
}

// SetHeaders sets the security headers every page carries: no caching,
// no framing, no referrer, and the Content-Security-Policy.
func (s *Set) SetHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

// CSP returns the Content-Security-Policy of the pages.
func (s *Set) CSP() string { return s.csp }

// Render writes the page name (Login, Logout or Error) with status. It
// fills in Title, LogoURL, Style, PageTitle (when empty: Title, "Sign out"
// or the error's Heading) and the readable
// times of p.User, and sets the security headers. If the template fails,
// the answer is a plain 500.
func (s *Set) Render(w http.ResponseWriter, status int, name string, p Page) error {
	var buf bytes.Buffer
	if err := s.execute(&buf, name, p); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return fmt.Errorf("render %s: %w", name, err)
	}
	s.SetHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (s *Set) execute(buf *bytes.Buffer, name string, p Page) error {
	t, ok := s.tmpl[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	p.Title, p.LogoURL, p.Style = s.title, s.logo, s.style
	if p.PageTitle == "" {
		switch name {
		case Logout:
			p.PageTitle = "Sign out"
		case Error:
			p.PageTitle = p.Heading
		default:
			p.PageTitle = s.title
		}
	}
	if p.User != nil {
		u := *p.User
		if u.Ends == "" && !u.ExpiresAt.IsZero() {
			u.Ends = s.Clock(u.ExpiresAt)
		}
		if u.Since == "" && !u.SignedInAt.IsZero() {
			u.Since = s.Clock(u.SignedInAt)
		}
		p.User = &u
	}
	return t.ExecuteTemplate(buf, name, p)
}

// Clock formats t for a person: "14:05 UTC" on the same UTC day as now,
// "Tue 2 Dec 14:05 UTC" within the year, else "2 Dec 2027 14:05 UTC".
// Pages have no script, so they cannot know the reader's zone; UTC is said
// explicitly.
func (s *Set) Clock(t time.Time) string {
	t, now := t.UTC(), s.now().UTC()
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04 UTC")
	case t.Year() == now.Year():
		return t.Format("Mon 2 Jan 15:04 UTC")
	default:
		return t.Format("2 Jan 2006 15:04 UTC")
	}
}
