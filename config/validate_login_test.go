package config

import "testing"

func TestValidateLoginLogoURL(t *testing.T) {
	const hint = `; write an https URL such as "https://cdn.example.com/logo.svg" or a path such as "/static/logo.svg"`
	runValidateCases(t, []validateCase{
		{"https", func(c *Config) { c.Login.LogoURL = "https://cdn.example.com/brand/logo.svg?v=2" }, nil},
		{"path", func(c *Config) { c.Login.LogoURL = "/static/logo.png" }, nil},
		{"http", func(c *Config) { c.Login.LogoURL = "http://cdn.example.com/logo.svg" },
			[]string{`login.logo_url: "http://cdn.example.com/logo.svg" has scheme "http"; only https images are allowed` + hint}},
		{"scheme-relative", func(c *Config) { c.Login.LogoURL = "//cdn.example.com/logo.svg" },
			[]string{`login.logo_url: "//cdn.example.com/logo.svg" is not a URL or a path` + hint}},
		{"relative", func(c *Config) { c.Login.LogoURL = "logo.svg" },
			[]string{`login.logo_url: "logo.svg" is not a URL or a path` + hint}},
		{"data", func(c *Config) { c.Login.LogoURL = "data:image/png;base64,AAAA" },
			[]string{`login.logo_url: "data:image/png;base64,AAAA" has scheme "data"; only https images are allowed` + hint}},
		{"quote breaks the CSP", func(c *Config) { c.Login.LogoURL = "https://x.example/'none'" },
			[]string{`login.logo_url: "https://x.example/'none'" contains spaces, quotes, backslashes or control characters` + hint}},
		{"credentials", func(c *Config) { c.Login.LogoURL = "https://u:secret@cdn.example.com/l.svg" },
			[]string{`login.logo_url: "https://u:xxxxx@cdn.example.com/l.svg" carries credentials; a logo URL may not contain user:password@`}},
		{"no host", func(c *Config) { c.Login.LogoURL = "https:///logo.svg" },
			[]string{`login.logo_url: "https:///logo.svg" has no host` + hint}},
	})
}
