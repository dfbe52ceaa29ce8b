package config

import "testing"

func TestValidateRoutes(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"no routes", func(c *Config) { c.Routes = nil },
			[]string{`routes: no routes; every request would be 404. Add at least one, e.g. {name: app, match: {path_prefix: "/"}, auth: session}`}},
		{"bad name", func(c *Config) { c.Routes[0].Name = "Public API" },
			[]string{`routes[0].name: "Public API" must match [a-z0-9_-]+`}},
		{"empty name", func(c *Config) { c.Routes[0].Name = "" },
			[]string{`routes[0].name: "" must match [a-z0-9_-]+`}},
		{"reserved name", func(c *Config) { c.Routes[0].Name = "_unmatched" },
			[]string{`routes[0].name: "_unmatched" is reserved for Gatehouse's own metrics`}},
		{"duplicate name", func(c *Config) { c.Routes[2].Name = "public" },
			[]string{`routes[2].name: "public" is also the name of routes[0]; names must be unique`}},
		{"no path", func(c *Config) { c.Routes[0].Match = Match{} },
			[]string{`routes[0].match: needs path or path_prefix, e.g. {path_prefix: "/"}`}},
		{"both paths", func(c *Config) { c.Routes[0].Match.Path = "/x" },
			[]string{`routes[0].match: has both path "/x" and path_prefix "/public/"; keep one`}},
		{"relative path", func(c *Config) { c.Routes[0].Match = Match{Path: "health"} },
			[]string{`routes[0].match.path: "health" must start with "/"`}},
		{"relative prefix", func(c *Config) { c.Routes[0].Match.PathPrefix = "public/" },
			[]string{`routes[0].match.path_prefix: "public/" must start with "/"`}},
		{"double slash", func(c *Config) { c.Routes[0].Match.PathPrefix = "/a//b" },
			[]string{`routes[0].match.path_prefix: "/a//b" contains "//"; repeated slashes are merged before matching, so it can never match`}},
		{"dot segment", func(c *Config) { c.Routes[0].Match.PathPrefix = "/a/../b" },
			[]string{`routes[0].match.path_prefix: "/a/../b" contains a "." or ".." segment; such requests are refused, so it can never match`}},
		{"semicolon", func(c *Config) { c.Routes[0].Match = Match{Path: "/a;b"} },
			[]string{`routes[0].match.path: "/a;b" contains a backslash, ";" or NUL; such requests are refused, so it can never match`}},
		{"methods", func(c *Config) { c.Routes[1].Match.Methods = []string{"GET", "post", "GET POST", ""} },
			[]string{
				`routes[1].match.methods[1]: "post" is not an upper-case method name, e.g. GET, POST`,
				`routes[1].match.methods[2]: "GET POST" is not an upper-case method name, e.g. GET, POST`,
				`routes[1].match.methods[3]: "" is not an upper-case method name, e.g. GET, POST`,
			}},
		{"host", func(c *Config) { c.Routes[1].Match.Host = "https://api.example.com" },
			[]string{`routes[1].match.host: "https://api.example.com" is not a host name; write e.g. "app.example.com"`}},
		{"host with port", func(c *Config) { c.Routes[1].Match.Host = "api.example.com:8080" },
			[]string{`routes[1].match.host: "api.example.com:8080" has a port; hosts are matched without the port, write e.g. "app.example.com"`}},
		{"host ok", func(c *Config) { c.Routes[1].Match.Host = "api.example.com" }, nil},
		{"host ipv6 ok", func(c *Config) { c.Routes[1].Match.Host = "::1" }, nil},
		{"host ipv6 with port", func(c *Config) { c.Routes[1].Match.Host = "[::1]:80" },
			[]string{`routes[1].match.host: "[::1]:80" has a port; hosts are matched without the port, write e.g. "app.example.com"`}},
		{"unknown auth", func(c *Config) { c.Routes[2].Auth = "jtw" },
			[]string{`routes[2].auth: unknown mode "jtw" (want none, session, jwt, any)`}},
		{"missing auth", func(c *Config) { c.Routes[2].Auth = "" },
			[]string{`routes[2].auth: unknown mode "" (want none, session, jwt, any)`}},
		{"require on none", func(c *Config) { c.Routes[0].Require.Claims = map[string]string{"tenant": "acme"} },
			[]string{`routes[0].require: set on a route with auth: none, which has no identity to check; use session, jwt or any`}},
		{"scopes on session", func(c *Config) { c.Routes[2].Require.Scopes = []string{"read"} },
			[]string{`routes[2].require.scopes: sessions carry no scopes, so auth: session can never satisfy them; use jwt or any`}},
		{"scopes on any ok", func(c *Config) { c.Routes[2].Auth = "any"; c.Routes[2].Require.Scopes = []string{"read"} }, nil},
		{"session without users", func(c *Config) { c.Users.File = "" },
			[]string{`routes[2].auth: session needs users: set users.file or users.htpasswd_file`}},
		{"htpasswd is enough", func(c *Config) { c.Users.File = ""; c.Users.HtpasswdFile = "users.htpasswd" }, nil},
		{"jwt without issuers", func(c *Config) { c.JWT.Issuers = nil; c.JWT.Issue.SigningKeyFile = "" },
			[]string{`routes[1].auth: jwt needs a token issuer: add jwt.issuers or set jwt.issue.signing_key_file`}},
		{"jwt with own issuer only", func(c *Config) { c.JWT.Issuers = nil }, nil},
		{"any needs both", func(c *Config) {
			c.Users.File = ""
			c.JWT.Issuers = nil
			c.JWT.Issue.SigningKeyFile = ""
			c.Routes = []Route{{Name: "all", Match: Match{PathPrefix: "/"}, Auth: "any"}}
		}, []string{
			`routes[0].auth: any needs users: set users.file or users.htpasswd_file`,
			`routes[0].auth: any needs a token issuer: add jwt.issuers or set jwt.issue.signing_key_file`,
		}},
	})
}

func TestValidateUnreachableRoutes(t *testing.T) {
	catchAll := Route{Name: "app", Match: Match{PathPrefix: "/"}, Auth: "session"}
	r := func(name string, m Match) Route { return Route{Name: name, Match: m, Auth: "none"} }
	tests := []struct {
		name   string
		routes []Route
		want   []string
	}{
		{"after catch-all", []Route{catchAll, r("public", Match{PathPrefix: "/public/"})},
			[]string{`routes[1]: route "public" can never match: route "app" (routes[0]) comes first and matches all its requests (path_prefix "/"); move "public" above it`}},
		{"exact path under prefix", []Route{r("api", Match{PathPrefix: "/api/"}), r("health", Match{Path: "/api/health"})},
			[]string{`routes[1]: route "health" can never match: route "api" (routes[0]) comes first and matches all its requests (path_prefix "/api/"); move "health" above it`}},
		{"same exact path", []Route{r("a", Match{Path: "/x"}), r("b", Match{Path: "/x", Methods: []string{"GET"}})},
			[]string{`routes[1]: route "b" can never match: route "a" (routes[0]) comes first and matches all its requests (path "/x"); move "b" above it`}},
		{"reported once, naming the first", []Route{catchAll, r("x", Match{PathPrefix: "/x"}), r("xy", Match{PathPrefix: "/xy"})},
			[]string{
				`routes[1]: route "x" can never match: route "app" (routes[0]) comes first and matches all its requests (path_prefix "/"); move "x" above it`,
				`routes[2]: route "xy" can never match: route "app" (routes[0]) comes first and matches all its requests (path_prefix "/"); move "xy" above it`,
			}},
		{"methods subset", []Route{r("rw", Match{PathPrefix: "/a", Methods: []string{"GET", "POST"}}), r("r", Match{PathPrefix: "/a/b", Methods: []string{"GET"}})},
			[]string{`routes[1]: route "r" can never match: route "rw" (routes[0]) comes first and matches all its requests (path_prefix "/a"); move "r" above it`}},
		{"same host", []Route{r("h", Match{PathPrefix: "/", Host: "a.example.com"}), r("h2", Match{PathPrefix: "/x", Host: "A.example.com"})},
			[]string{`routes[1]: route "h2" can never match: route "h" (routes[0]) comes first and matches all its requests (path_prefix "/"); move "h2" above it`}},
		{"earlier has methods: falls through", []Route{r("get", Match{PathPrefix: "/", Methods: []string{"GET"}}), r("rest", Match{PathPrefix: "/x"})}, nil},
		{"earlier has host: other hosts fall through", []Route{r("h", Match{PathPrefix: "/", Host: "a.example.com"}), r("rest", Match{PathPrefix: "/x"})}, nil},
		{"narrower first is fine", []Route{r("public", Match{PathPrefix: "/public/"}), catchAll}, nil},
		{"prefix does not cover shorter", []Route{r("ab", Match{PathPrefix: "/ab"}), r("a", Match{PathPrefix: "/a"})}, nil},
		{"exact path does not cover prefix", []Route{r("x", Match{Path: "/x"}), r("xp", Match{PathPrefix: "/x"})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Routes = tt.routes
			assertProblems(t, tt.name, c.Validate(), tt.want)
		})
	}
}
