package config

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestLoadFullExample(t *testing.T) {
	c, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatalf("Load(full.yaml): %v", err)
	}
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles(full.yaml): %v", err)
	}
	want := validConfig()
	want.TrustedProxies = []string{}
	want.JWT.Issue.PreviousKeyFiles = []string{}
	want.IdentityHeaders.Extra = map[string]string{}
	want.Routes[0].Require = Require{}
	want.Routes[1].Require.Claims = map[string]string{"tenant": "acme"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(full.yaml):\ngot  %+v\nwant %+v", c, want)
	}
}

func TestLoadDefaultsAndClaimDefaults(t *testing.T) {
	path := writeConfig(t, `
users: {file: users.yaml}
jwt:
  issuers:
    - issuer: https://idp.example.com
      audiences: [api]
      algorithms: [ES256]
      jwks_url: https://idp.example.com/jwks
      claims: {groups: realm_access.roles}
routes:
  - {name: app, match: {path_prefix: /}, auth: any}
`)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Default()
	if !reflect.DeepEqual(c.Server, want.Server) || !reflect.DeepEqual(c.Session, want.Session) || !reflect.DeepEqual(c.Store, want.Store) {
		t.Errorf("defaults not kept: got %+v %+v %+v", c.Server, c.Session, c.Store)
	}
	gotClaims := c.JWT.Issuers[0].Claims
	wantClaims := map[string]string{"user": "sub", "email": "email", "groups": "realm_access.roles"}
	if !reflect.DeepEqual(gotClaims, wantClaims) {
		t.Errorf("claims: got %v, want %v", gotClaims, wantClaims)
	}
}

func TestLoadNoFile(t *testing.T) {
	_, err := Load("", nil)
	assertProblems(t, `Load("")`, err, []string{
		`routes: no routes; every request would be 404. Add at least one, e.g. {name: app, match: {path_prefix: "/"}, auth: session}`,
	})
	c, err := Load("testdata/missing.yaml", nil)
	if c != nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing): got %v, %v; want nil and a not-exist error", c, err)
	}
	c, err = Load(writeConfig(t, "routes: [\n"), nil)
	if c != nil || err == nil || len(FieldErrors(err)) != 0 {
		t.Errorf("Load(bad YAML): got %v, %v; want nil and a parse error", c, err)
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	tests := []struct {
		env   string
		check func(c *Config) any
		want  any
	}{
		{"GATEHOUSE_STORE__REDIS__DB=2", func(c *Config) any { return c.Store.Redis.DB }, 2},
		{"GATEHOUSE_SESSION__SECURE=false", func(c *Config) any { return c.Session.Secure }, false},
		{"GATEHOUSE_STORE__REDIS__ADDRS=a:6379,b:6379", func(c *Config) any { return c.Store.Redis.Addrs }, []string{"a:6379", "b:6379"}},
		{"GATEHOUSE_STORE__REDIS__ADDRS= a:6379 , b:6379 ", func(c *Config) any { return c.Store.Redis.Addrs }, []string{"a:6379", "b:6379"}},
		{"GATEHOUSE_TRUSTED_PROXIES=10.0.0.0/8,192.168.0.0/16", func(c *Config) any { return c.TrustedProxies }, []string{"10.0.0.0/8", "192.168.0.0/16"}},
		{"GATEHOUSE_TRUSTED_PROXIES=", func(c *Config) any { return c.TrustedProxies }, []string{}},
		{"GATEHOUSE_SERVER__IDLE_TIMEOUT=90s", func(c *Config) any { return c.Server.IdleTimeout }, 90 * time.Second},
		{"GATEHOUSE_LISTEN=:9999", func(c *Config) any { return c.Listen }, ":9999"},
		{"GATEHOUSE_JWT__ISSUE__ACCESS_TTL=10m", func(c *Config) any { return c.JWT.Issue.AccessTTL }, 10 * time.Minute},
		{"GATEHOUSE_JWT__ISSUE__REFRESH_MAX_LIFETIME=1000h", func(c *Config) any { return c.JWT.Issue.RefreshMaxLifetime }, 1000 * time.Hour},
		{"GATEHOUSE_IDENTITY_HEADERS__EXTRA__X-AUTH-TENANT=tenant", func(c *Config) any { return c.IdentityHeaders.Extra }, map[string]string{"x-auth-tenant": "tenant"}},
		{"GATEHOUSE_CONFIG=other.yaml", func(c *Config) any { return c.Listen }, ":8080"},
		{"gatehouse_listen=:1", func(c *Config) any { return c.Listen }, ":8080"},
		{"OTHER_LISTEN=:1", func(c *Config) any { return c.Listen }, ":8080"},
	}
	for _, tt := range tests {
		c, err := Load("testdata/full.yaml", []string{"PATH=/bin", tt.env})
		if err != nil {
			t.Errorf("Load with %s: %v", tt.env, err)
			continue
		}
		if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Load with %s: got %#v, want %#v", tt.env, got, tt.want)
		}
	}
}

func TestLoadEnvProblems(t *testing.T) {
	tests := []struct{ env, want string }{
		{"GATEHOUSE_SERVER__IDEL_TIMEOUT=1s", `server.idel_timeout: unknown key (from GATEHOUSE_SERVER__IDEL_TIMEOUT)`},
		{"GATEHOUSE_NOPE=1", `nope: unknown key (from GATEHOUSE_NOPE)`},
		{"GATEHOUSE_SERVER___IDLE_TIMEOUT=1s", `server._idle_timeout: unknown key (from GATEHOUSE_SERVER___IDLE_TIMEOUT)`},
		{"GATEHOUSE_SERVER____IDLE_TIMEOUT=1s", `server..idle_timeout: empty key segment; separate levels with exactly two underscores (from GATEHOUSE_SERVER____IDLE_TIMEOUT)`},
		{"GATEHOUSE_ROUTES=x", `routes: a list of objects cannot be set from the environment; set it in the config file (from GATEHOUSE_ROUTES)`},
		{"GATEHOUSE_ROUTES__0__UPSTREAM=http://x", `routes.0.upstream: routes is a list of objects and cannot be set from the environment; set it in the config file (from GATEHOUSE_ROUTES__0__UPSTREAM)`},
		{"GATEHOUSE_JWT__ISSUERS__0__ISSUER=x", `jwt.issuers.0.issuer: jwt.issuers is a list of objects and cannot be set from the environment; set it in the config file (from GATEHOUSE_JWT__ISSUERS__0__ISSUER)`},
		{"GATEHOUSE_STORE__REDIS__ADDRS__0=a:1", `store.redis.addrs.0: store.redis.addrs is a list and takes comma-separated values; it has no sub-keys (from GATEHOUSE_STORE__REDIS__ADDRS__0)`},
		{"GATEHOUSE_STORE__REDIS=x", `store.redis: a map of keys cannot be set as a whole; set its keys, e.g. GATEHOUSE_STORE__REDIS__<KEY> (from GATEHOUSE_STORE__REDIS)`},
		{"GATEHOUSE_STORE__REDIS__DB=two", `store.redis.db: "two" is not a whole number`},
		{"GATEHOUSE_SESSION__SECURE=nope", `session.secure: "nope" is not true or false`},
		{"GATEHOUSE_SERVER__IDLE_TIMEOUT=10 sec", `server.idle_timeout: "10 sec" is not a duration; write e.g. "30s", "5m"`},
		{"GATEHOUSE_SERVER__IDLE_TIMEOUT=30", `server.idle_timeout: "30" is not a duration; write e.g. "30s", "5m"`},
		{"GATEHOUSE_STORE__TYPE=etcd", `store.type: unknown type "etcd" (want memory, redis)`},
	}
	for _, tt := range tests {
		_, err := Load("testdata/full.yaml", []string{tt.env})
		assertProblems(t, "Load with "+tt.env, err, []string{tt.want})
	}
	// A refused override does not hide the file's own problems.
	_, err := Load("testdata/full.yaml", []string{"GATEHOUSE_ROUTES=x", "GATEHOUSE_USERS__FILE="})
	assertProblems(t, "Load with GATEHOUSE_ROUTES and no users", err, []string{
		`routes: a list of objects cannot be set from the environment; set it in the config file (from GATEHOUSE_ROUTES)`,
		`routes[2].auth: session needs users: set users.file or users.htpasswd_file`,
	})
}

func TestLoadDecodeProblems(t *testing.T) {
	const routes = "routes:\n  - {name: app, match: {path_prefix: /}, auth: none}\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top-level key", "listn: \":8080\"\n" + routes, []string{`listn: unknown key`}},
		{"keys are case-sensitive", "Listen: \":1\"\n" + routes, []string{`Listen: unknown key`}},
		{"unknown nested key", "server: {idle_timout: 10s}\n" + routes, []string{`server.idle_timout: unknown key`}},
		{"unknown keys sorted", "zzz: 1\naaa: 2\n" + routes, []string{`aaa: unknown key`, `zzz: unknown key`}},
		{"unknown key in route", routes + "  - {name: api, mathc: {path: /api}, auth: none}\n", []string{
			`routes[1].mathc: unknown key`,
			`routes[1].match: needs path or path_prefix, e.g. {path_prefix: "/"}`,
		}},
		{"unknown key in match", "routes:\n  - {name: app, match: {path_prefix: /, pth: /x}, auth: none}\n", []string{`routes[0].match.pth: unknown key`}},
		{"unknown key in issuer", routes + "jwt:\n  issuers:\n    - {issuer: x, audience: a, audiences: [a], algorithms: [HS256], hmac_secret_file: s}\n",
			[]string{`jwt.issuers[0].audience: unknown key`}},
		{"bad duration", "server: {idle_timeout: 10 sec}\n" + routes, []string{`server.idle_timeout: "10 sec" is not a duration; write e.g. "30s", "5m"`}},
		{"duration without unit", "session: {idle_timeout: 30}\n" + routes, []string{`session.idle_timeout: 30 has no unit; write e.g. "30s" or "30m"`}},
		{"duration zero number", "jwt: {leeway: 0}\n" + routes, nil},
		{"bad duration in list item", routes + "jwt: {issue: {access_ttl: 5 minutes}}\n", []string{`jwt.issue.access_ttl: "5 minutes" is not a duration; write e.g. "30s", "5m"`}},
		{"wrong type", "store: {redis: {db: [1]}}\n" + routes, []string{`store.redis.db: got a list, want a whole number`}},
		{"map for string", "listen: {port: 1}\n" + routes, []string{`listen: got a map, want a string`}},
		{"string for list is one item", "trusted_proxies: 10.0.0.0/8\n" + routes, nil},
		{"routes not a list", "routes: {name: app}\n", []string{
			`routes: got a map, want a list (one "- " entry per item)`,
		}},
		{"issuers a string", routes + "jwt: {issuers: x}\n", []string{`jwt.issuers: got the string "x", want a list (one "- " entry per item)`}},
		{"route a string", "routes: [x]\n", []string{
			`routes[0]: got the string "x", want a map of keys`,
		}},
		{"dotted claim names kept", routes[:len(routes)-1] + "\n" + "  - {name: api, match: {path_prefix: /api}, auth: none}\n", []string{
			`routes[1]: route "api" can never match: route "app" (routes[0]) comes first and matches all its requests (path_prefix "/"); move "api" above it`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.yaml), nil)
			assertProblems(t, tt.name, err, tt.want)
		})
	}
}

func TestLoadDottedMapKeys(t *testing.T) {
	path := writeConfig(t, `
users: {file: u}
identity_headers:
  extra: {X-Auth-Tenant: "https://acme.example/tenant"}
routes:
  - name: app
    match: {path_prefix: /}
    auth: session
    require: {claims: {"https://acme.example/tenant": acme, realm_access.roles: x}}
`)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]string{"https://acme.example/tenant": "acme", "realm_access.roles": "x"}
	if got := c.Routes[0].Require.Claims; !reflect.DeepEqual(got, want) {
		t.Errorf("require.claims: got %v, want %v", got, want)
	}
}

func TestLoadErrorsGolden(t *testing.T) {
	_, err := Load("testdata/bad.yaml", []string{"GATEHOUSE_STORE__REDIS__DB=x", "GATEHOUSE_SERVER__IDLE=1s"})
	if err == nil {
		t.Fatal("Load(bad.yaml): got nil error")
	}
	got := err.Error() + "\n"
	const golden = "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, rerr := os.ReadFile(golden)
	if rerr != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", rerr)
	}
	if got != string(want) {
		t.Errorf("Load(bad.yaml) errors differ from %s (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if strings.Contains(line, "hunter2") {
			t.Errorf("error output leaks a secret: %q", line)
		}
	}
}

func TestLoadMinimal(t *testing.T) {
	c, err := Load("testdata/minimal.yaml", nil)
	if err != nil {
		t.Fatalf("Load(minimal.yaml): %v", err)
	}
	if got, want := len(c.Routes), 2; got != want {
		t.Fatalf("routes: got %d, want %d", got, want)
	}
	if got, want := c.Routes[1].Auth, "none"; got != want {
		t.Errorf("routes[1].auth: got %q, want %q", got, want)
	}
	if got, want := c.Store.Redis.KeyPrefix, "gatehouse:"; got != want {
		t.Errorf("store.redis.key_prefix: got %q, want %q", got, want)
	}
}
