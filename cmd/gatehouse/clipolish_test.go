package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFlagErrorsPrintedOnce: a bad flag, a bad flag value or a stray
// argument is printed once, naming the command, with a pointer to -h and
// without the whole usage; run reports it (exit 1) so that main prints
// nothing more. Before, the flag package printed the error and the usage,
// and main printed the error again.
func TestFlagErrorsPrintedOnce(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		for _, args := range [][]string{{"-bogus"}, {"stray"}} {
			out, stderr, err := runCmd(t, "", append([]string{c.name}, args...)...)
			if !errors.Is(err, errReported) || out != "" {
				t.Errorf("%s %s: err %v, stdout %q; want the problem reported (exit 1)", c.name, args[0], err, out)
			}
			want := map[string]string{"-bogus": "flag provided but not defined: -bogus", "stray": `unexpected argument "stray"`}[args[0]]
			if n := strings.Count(stderr, want); n != 1 || !strings.HasPrefix(stderr, "gatehouse "+c.name+": "+want) {
				t.Errorf("%s %s: %q is printed %d times, want once at the start:\n%s", c.name, args[0], want, n, stderr)
			}
			if !strings.Contains(stderr, "Run 'gatehouse "+c.name+" -h'") || strings.Contains(stderr, "Usage") {
				t.Errorf("%s %s: want a pointer to -h and no usage dump:\n%s", c.name, args[0], stderr)
			}
		}
	}
	// A bad value names the flag once.
	_, stderr, err := runCmd(t, "", "token", "-ttl", "soon")
	if !errors.Is(err, errReported) || strings.Count(stderr, `invalid value "soon" for flag -ttl`) != 1 {
		t.Errorf("token -ttl soon: err %v:\n%s", err, stderr)
	}
	// An error returned by a command is printed once by run, naming the
	// command; main then prints nothing.
	_, stderr, err = runCmd(t, "", "sessions", "-admin", "localhost:9090", "-token-file", "f", "-user", "alice")
	if !errors.Is(err, errReported) || strings.Count(stderr, "localhost:9090") != 1 || !strings.HasPrefix(stderr, "gatehouse sessions: -admin") {
		t.Errorf("sessions with a bad -admin: err %v:\n%s", err, stderr)
	}
}

// flagLineRE is a flag's line in -h output: "  -name" and its value name.
var flagLineRE = regexp.MustCompile(`^  -([a-z-]+)( [A-Za-z=]+)?$`)

// TestEveryVerbHelp: each verb's -h (and `gatehouse help VERB`) prints its
// usage line, a description, and every flag with a description of its own
// (no Go type placeholders such as "value", no leftover backquotes).
func TestEveryVerbHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		_, stderr, err := runCmd(t, "", c.name, "-h")
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: err %v, want flag.ErrHelp (exit 0)", c.name, err)
		}
		if _, viaHelp, _ := runCmd(t, "", "help", c.name); viaHelp != stderr {
			t.Errorf("help %s differs from %s -h:\n%s", c.name, c.name, viaHelp)
		}
		head := "Usage: gatehouse " + c.synopsis + "\n\n" + c.help + "\n"
		if !strings.HasPrefix(stderr, head) || len(c.help) < 40 {
			t.Errorf("%s -h: want it to start with the usage line and a description:\n%s", c.name, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		flags := 0
		for i, l := range lines {
			m := flagLineRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			flags++
			if m[2] == " value" || m[2] == " string" {
				t.Errorf("%s -h: -%s has no value name: %q", c.name, m[1], l)
			}
			if !strings.Contains(c.synopsis, "-"+m[1]) {
				t.Errorf("%s -h: -%s is missing from the usage line %q", c.name, m[1], c.synopsis)
			}
			if i+1 == len(lines) || !strings.HasPrefix(lines[i+1], "    \t") || len(strings.TrimSpace(lines[i+1])) < 20 {
				t.Errorf("%s -h: -%s has no description", c.name, m[1])
			}
		}
		if strings.Contains(stderr, "`") || (flags > 0) != strings.Contains(stderr, "\nFlags:\n") {
			t.Errorf("%s -h: %d flags:\n%s", c.name, flags, stderr)
		}
		if n := strings.Count(c.synopsis, " -"); flags < n {
			t.Errorf("%s -h: %d flags described, the usage line names %d", c.name, flags, n)
		}
	}
}

// TestUsageTableAligned: the top-level usage is a table of every verb
// whose descriptions start in one column.
func TestUsageTableAligned(t *testing.T) {
	t.Parallel()
	_, stderr, err := runCmd(t, "", "-h")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(stderr, "Commands:\n")
	table, _, _ = strings.Cut(table, "\n\n")
	rows := strings.Split(table, "\n")
	if !ok || len(rows) != len(commands()) {
		t.Fatalf("usage: want a Commands: table of %d rows:\n%s", len(commands()), stderr)
	}
	col := -1
	for i, c := range commands() {
		name, desc, _ := strings.Cut(strings.TrimPrefix(rows[i], "  "), " ")
		at := strings.Index(rows[i], strings.TrimLeft(desc, " "))
		if name != c.name || desc == "" || (col >= 0 && at != col) {
			t.Errorf("row %q: want %s with its description at column %d", rows[i], c.name, col)
		}
		col = at
	}
	// With no arguments, and for help of an unknown command: the same
	// usage, exit 1.
	if _, noArgs, err := runCmd(t, ""); !errors.Is(err, errReported) || noArgs != stderr {
		t.Errorf("no arguments: err %v, usage:\n%s", err, noArgs)
	}
	if _, got, err := runCmd(t, "", "help", "frobnicate"); !errors.Is(err, errReported) || !strings.HasPrefix(got, `gatehouse: unknown command "frobnicate"`) || !strings.HasSuffix(got, stderr) {
		t.Errorf("help frobnicate: err %v:\n%s", err, got)
	}
}

const tokenCLIConfig = `
listen: "127.0.0.1:0"
upstream: "http://127.0.0.1:3000"
jwt:
  max_lifetime: 1h
  issue: {signing_key_file: "{{dir}}/issuing.pem", access_ttl: 7m}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: none}
`

// payloadOf decodes a JWT's payload without verifying it.
func payloadOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	return m
}

// TestTokenRefusesBadTTLAndOwnClaims: -ttl must be at least 1s (a
// negative or zero -ttl used to fall back silently to access_ttl); -claim
// may not set the claims the command sets itself (they were silently
// overwritten), nor one claim twice; a -ttl over jwt.max_lifetime would
// mint a token Gatehouse refuses.
func TestTokenRefusesBadTTLAndOwnClaims(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"issuing.pem":    signingKey(t, "ES256"),
		"gatehouse.yaml": strings.ReplaceAll(tokenCLIConfig, "{{dir}}", dir),
	})
	base := []string{"token", "-config", filepath.Join(dir, "gatehouse.yaml"), "-sub", "alice"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-ttl", "-5m"}, "-ttl -5m0s: want a lifetime of at least 1s"},
		{[]string{"-ttl", "0"}, "-ttl 0s: want a lifetime of at least 1s"},
		{[]string{"-ttl", "500ms"}, "-ttl 500ms: want a lifetime of at least 1s"},
		{[]string{"-claim", "sub=bob"}, "sub is set with -sub"},
		{[]string{"-claim", "iss=https://evil"}, "iss is jwt.issue.issuer of the config"},
		{[]string{"-claim", "aud=x"}, "aud is jwt.issue.audience of the config"},
		{[]string{"-claim", "exp=1"}, "exp is set with -ttl"},
		{[]string{"-claim", "iat=1"}, "iat is the time of minting"},
		{[]string{"-claim", "jti=x"}, "jti is random, one per token"},
		{[]string{"-claim", "tenant=a", "-claim", "tenant=b"}, `claim "tenant" is given twice`},
		{[]string{"-claim", "novalue"}, "want k=v"},
		{[]string{"-ttl", "2h"}, "-ttl 2h0m0s is longer than jwt.max_lifetime 1h0m0s: Gatehouse would refuse the token"},
	}
	for _, c := range cases {
		out, stderr, err := runCmd(t, "", append(base, c.args...)...)
		if !errors.Is(err, errReported) || out != "" || !strings.HasPrefix(stderr, "gatehouse token: ") || strings.Count(stderr, c.want) != 1 {
			t.Errorf("token %q: err %v, stdout %q; want exit 1 with %q once:\n%s", c.args, err, out, c.want, stderr)
		}
	}
	// Good values: the lifetime and the claims are in the token.
	for _, c := range []struct {
		args []string
		ttl  float64
	}{
		{[]string{"-ttl", "90s", "-claim", `groups=["staff"]`, "-claim", "tenant=acme"}, 90},
		{nil, 7 * 60}, // jwt.issue.access_ttl
	} {
		out, stderr, err := runCmd(t, "", append(base, c.args...)...)
		if err != nil {
			t.Fatalf("token %q: %v\n%s", c.args, err, stderr)
		}
		p := payloadOf(t, out)
		if got := p["exp"].(float64) - p["iat"].(float64); got != c.ttl || p["sub"] != "alice" {
			t.Errorf("token %q: exp-iat %v, sub %v; want %v, alice", c.args, got, p["sub"], c.ttl)
		}
		if c.args != nil && (fmt.Sprint(p["groups"]) != "[staff]" || p["tenant"] != "acme") {
			t.Errorf("token %q: claims %v", c.args, p)
		}
	}
}

// TestSessionsOutput: times in RFC 3339 UTC, "1 session" / "N sessions",
// no table header when there is none, and the same wording for -delete.
func TestSessionsOutput(t *testing.T) {
	t.Parallel()
	count := map[string]int{"alice": 1, "bob": 2, "carol": 0}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer adm-token" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		user := r.URL.Query().Get("user")
		n := count[user]
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodDelete {
			fmt.Fprintf(w, `{"deleted":%d}`, n)
			return
		}
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf(`{"id":"h%d","user":%q,"created":1764601200,"last_seen":1764604805,"ip":"192.0.2.%d","user_agent":"curl/8"}`, i, user, i))
		}
		fmt.Fprintf(w, `{"sessions":[%s]}`, strings.Join(s, ","))
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"admin.token": "adm-token\n"})
	base := []string{"-admin", srv.URL, "-token-file", filepath.Join(dir, "admin.token")}
	for user, want := range map[string][]string{
		"alice": {"ID ", "h0 ", "1 session of alice"},
		"bob":   {"ID ", "h0 ", "h1 ", "2 sessions of bob"},
		"carol": {"0 sessions of carol"},
	} {
		out, stderr, err := runCmd(t, "", append([]string{"sessions", "-user", user}, base...)...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if err != nil || len(lines) != len(want) {
			t.Errorf("sessions -user %s: %v, %q; want %d lines\n%s", user, err, out, len(want), stderr)
			continue
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("sessions -user %s: line %d %q, want it to start with %q", user, i+1, lines[i], w)
			}
		}
		if user == "alice" && !strings.Contains(lines[1], " 2025-12-01T15:00:00Z  2025-12-01T16:00:05Z ") {
			t.Errorf("sessions: times are not RFC 3339 UTC: %q", lines[1])
		}
		out, _, err = runCmd(t, "", append([]string{"sessions", "-user", user, "-delete"}, base...)...)
		if wantDel := "deleted " + strings.TrimSuffix(want[len(want)-1], " of "+user) + " of " + user + "\n"; err != nil || out != wantDel {
			t.Errorf("sessions -user %s -delete: %v, %q; want %q", user, err, out, wantDel)
		}
	}
}

// TestCheckNamesFileOfYAMLError: a YAML syntax error names the file and
// the line.
func TestCheckNamesFileOfYAMLError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	writeFiles(t, dir, map[string]string{"bad.yaml": "listen: \":8080\"\nupstream: \"http://127.0.0.1:3000\"\nroutes: [\n  - a\n  b: c\n"})
	for _, verb := range []string{"check", "serve", "token"} {
		args := []string{verb, "-config", path}
		if verb == "token" {
			args = append(args, "-sub", "alice")
		}
		_, stderr, err := runCmd(t, "", args...)
		if !errors.Is(err, errReported) || !strings.Contains(stderr, path+": yaml: line 3: ") {
			t.Errorf("%s: err %v; want %q in:\n%s", verb, err, path+": yaml: line 3: ", stderr)
		}
	}
}

// TestRevokeJWT: `gatehouse revoke -jwt FILE|-` reads the token, sends it
// to the admin API (which verifies it and revokes its jti until its exp),
// and says what it revoked. Tokens without jti or exp, and what is not a
// JWT, are refused before any call; a token the server cannot verify is
// refused by the server. The token is never printed.
func TestRevokeJWT(t *testing.T) {
	t.Parallel()
	f := newAdmFixture(t)
	in := f.start(t, "memory", "", "", true)
	admin := []string{"revoke", "-admin", in.AdminURL, "-token-file", in.Dir + "/admin.token"}
	exp := time.Now().Add(5 * time.Minute).Truncate(time.Second)

	fromFile := f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "jwt-from-file"})
	fromStdin := f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "jwt-from-stdin"})
	other := f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "jwt-other"})
	for _, tok := range []string{fromFile, fromStdin, other} {
		waitStatus(t, 5*time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+tok)
	}
	writeFiles(t, in.Dir, map[string]string{"bob.jwt": fromFile + "\n"})
	out, stderr, err := runCmd(t, "", append(admin, "-jwt", in.Dir+"/bob.jwt")...)
	if err != nil || !strings.HasPrefix(out, `revoked jti "jwt-from-file" until `) {
		t.Fatalf("revoke -jwt FILE: %v, %q\n%s", err, out, stderr)
	}
	out, stderr, err = runCmd(t, fromStdin+"\r\n", append(admin, "-jwt", "-")...)
	if err != nil || !strings.HasPrefix(out, `revoked jti "jwt-from-stdin" until `) {
		t.Fatalf("revoke -jwt -: %v, %q\n%s", err, out, stderr)
	}
	if until, _ := time.Parse(time.RFC3339, strings.TrimSpace(out[strings.LastIndex(out, " "):])); until.Sub(exp).Abs() > 2*time.Second {
		t.Errorf("revoke -jwt: %q, want the token's exp near %s", out, exp.UTC().Format(time.RFC3339))
	}
	for tok, want := range map[string]int{fromFile: 401, fromStdin: 401, other: 200} {
		if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+tok); resp.StatusCode != want {
			t.Errorf("token %s after revoke -jwt: got %d, want %d", payloadOf(t, tok)["jti"], resp.StatusCode, want)
		}
	}

	noJTI := f.idp.raw(t, fmt.Sprintf(`{"iss":"https://idp.test","aud":"my-api","sub":"bob","exp":%d}`, exp.Unix()))
	noExp := f.idp.raw(t, `{"iss":"https://idp.test","aud":"my-api","sub":"bob","jti":"no-exp"}`)
	forged := newAdmFixture(t).idp.token(t, "bob", time.Now(), map[string]any{"jti": "forged"})
	badExp := f.idp.raw(t, `{"sub":"bob","jti":"x","exp":"tomorrow"}`)
	for _, c := range []struct{ name, tok, want string }{
		{"no jti", noJTI, "the token has no jti (token ID) claim, so it cannot be revoked alone; revoke its subject with -subject SUB"},
		{"no exp", noExp, "the token has no exp (expiry) claim"},
		{"exp not a number", badExp, "the token's exp claim is not a time in UNIX seconds"},
		{"not a JWT", "hello-secret-text", "not a JWT (want three base64url parts separated by dots)"},
		{"payload not JSON", "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.sig", "not a JWT: its payload is not a JSON object"},
		{"forged", forged, "400 Bad Request: invalid_request the token does not verify"},
		{"empty", "\n", "no token: the input is empty"},
	} {
		out, stderr, err := runCmd(t, c.tok, append(admin, "-jwt", "-")...)
		if !errors.Is(err, errReported) || out != "" || !strings.HasPrefix(stderr, "gatehouse revoke: ") || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: err %v, stdout %q; want exit 1 with %q:\n%s", c.name, err, out, c.want, stderr)
		}
		if tok := strings.TrimSpace(c.tok); tok != "" && strings.Contains(stderr, tok) || strings.Contains(stderr, "c2VjcmV0") {
			t.Errorf("%s: the token is printed:\n%s", c.name, stderr)
		}
	}
	if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+other); resp.StatusCode != 200 {
		t.Errorf("an unrelated token after the refused revocations: %d", resp.StatusCode)
	}
	if logs := in.stdout.String(); strings.Contains(logs, fromFile) || strings.Contains(logs, forged) {
		t.Error("the server log holds a revoked token")
	}

	// -jwt is one of the three ways, not combined with another.
	for _, args := range [][]string{{"-jwt", "-", "-subject", "bob"}, {"-jwt", "-", "-jti", "x", "-exp", "1"}, {"-exp", "1"}, {}} {
		_, stderr, err := runCmd(t, other, append(admin, args...)...)
		if !errors.Is(err, errReported) || !strings.Contains(stderr, "give one of -jti ID -exp UNIX, -subject SUB or -jwt FILE") {
			t.Errorf("revoke %q: err %v:\n%s", args, err, stderr)
		}
	}
	_, stderr, err = runCmd(t, "", append(admin, "-jwt", in.Dir+"/missing.jwt")...)
	if !errors.Is(err, errReported) || !strings.Contains(stderr, "-jwt "+in.Dir+"/missing.jwt: open ") {
		t.Errorf("revoke -jwt of a missing file: err %v:\n%s", err, stderr)
	}
}
