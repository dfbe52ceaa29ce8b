package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/refresh"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// material is everything the config names by file, read and parsed once.
type material struct {
	issuers       []jwtauth.IssuerConfig // configured issuers, plus Gatehouse's own when it signs
	signer        *jwtauth.Signer        // nil without jwt.issue.signing_key_file
	adminToken    []byte                 // nil: admin API disabled
	redisPassword string
	warnings      []string   // not errors: `check` prints them and exits 0
	pages         *pages.Set // the login, logout and error pages (login.templates_dir)

	// redisCAs is store.redis.ca_file's pool; nil: the system roots.
	redisCAs *x509.CertPool
}

// loadMaterial reads and parses every key, secret and users file the config
// names. Each problem names its key path.
func loadMaterial(cfg *config.Config) (*material, error) {
	var errs []error
	fail := func(path string, err error) {
		errs = append(errs, &config.FieldError{Path: path, Problem: err.Error()})
	}
	read := func(path, file string) []byte {
		b, err := config.ReadSecretFile(file)
		if err != nil {
			fail(path, err)
		}
		return b
	}
	m := &material{}
	if f := cfg.JWT.Issue.SigningKeyFile; f != "" {
		cur := read("jwt.issue.signing_key_file", f)
		var prev [][]byte
		readAll := cur != nil
		for i, pf := range cfg.JWT.Issue.PreviousKeyFiles {
			b := read(fmt.Sprintf("jwt.issue.previous_key_files[%d]", i), pf)
			prev, readAll = append(prev, b), readAll && b != nil
		}
		if readAll { // an unreadable file is reported once, above
			s, err := jwtauth.NewSigner(cur, prev)
			var pke *jwtauth.PreviousKeyError
			switch {
			case errors.As(err, &pke) && pke.Index < len(cfg.JWT.Issue.PreviousKeyFiles):
				fail(fmt.Sprintf("jwt.issue.previous_key_files[%d]", pke.Index),
					fmt.Errorf("%s: %w", cfg.JWT.Issue.PreviousKeyFiles[pke.Index], pke.Err))
			case err != nil:
				fail("jwt.issue.signing_key_file", fmt.Errorf("%s: %w", f, err))
			default:
				m.signer = s
			}
		}
	}
	for i, is := range cfg.JWT.Issuers {
		path := fmt.Sprintf("jwt.issuers[%d]", i)
		ic := jwtauth.IssuerConfig{
			Issuer: is.Issuer, Audiences: is.Audiences, Algorithms: is.Algorithms, JWKSURL: is.JWKSURL,
			Claims: jwtauth.ClaimMapping{User: is.Claims["user"], Email: is.Claims["email"], Groups: is.Claims["groups"]},
		}
		for j, f := range is.PublicKeyFiles {
			ic.PublicKeys = append(ic.PublicKeys, read(fmt.Sprintf("%s.public_key_files[%d]", path, j), f))
		}
		if is.HMACSecretFile != "" {
			ic.HMACSecret = read(path+".hmac_secret_file", is.HMACSecretFile)
		}
		m.issuers = append(m.issuers, ic)
	}
	if m.signer != nil {
		m.issuers = append(m.issuers, ownIssuer(cfg, m.signer))
	}
	if len(errs) == 0 && len(m.issuers) > 0 {
		// Parse every key now, so that `check` reports bad PEM files.
		if _, err := jwtauth.NewVerifier(jwtauth.Options{Issuers: m.issuers}); err != nil {
			errs = append(errs, issuerProblems(cfg, err)...)
		}
	}
	if f := cfg.Admin.TokenFile; f != "" {
		m.adminToken = read("admin.token_file", f)
		if m.adminToken != nil && len(m.adminToken) < 16 {
			fail("admin.token_file", errors.New("the admin token must be at least 16 bytes; generate one with: openssl rand -hex 32"))
		}
	}
	if f := cfg.Store.Redis.PasswordFile; f != "" {
		m.redisPassword = string(read("store.redis.password_file", f))
	}
	loadTLSMaterial(cfg, m, fail)
	ps, err := pages.New(pages.Options{Title: cfg.Login.Title, LogoURL: cfg.Login.LogoURL, Dir: cfg.Login.TemplatesDir,
		FormActions: oidcFormActions(cfg)})
	if err != nil {
		fail("login.templates_dir", err)
	}
	m.pages = ps
	if cfg.Users.File != "" || cfg.Users.HtpasswdFile != "" {
		d, err := users.Load(cfg.Users.File, cfg.Users.HtpasswdFile)
		if err != nil {
			fail("users", err)
		} else if w := d.CostWarning(); w != "" {
			m.warnings = append(m.warnings, "users: "+w)
		}
	}
	return m, errors.Join(errs...)
}

// issuerProblems turns NewVerifier's errors into config problems: an
// algorithm without a key is named by its key path
// (jwt.issuers[0].algorithms[1]: ES256 has no key among public_key_files
// …); anything else stays under jwt.issuers.
func issuerProblems(cfg *config.Config, err error) []error {
	var out []error
	for _, e := range splitJoined(err) {
		var ake *jwtauth.AlgorithmKeyError
		if errors.As(e, &ake) && ake.Issuer < len(cfg.JWT.Issuers) {
			source := "public_key_files"
			if cfg.JWT.Issuers[ake.Issuer].HMACSecretFile != "" {
				source = "hmac_secret_file"
			}
			out = append(out, &config.FieldError{
				Path:    fmt.Sprintf("jwt.issuers[%d].algorithms[%d]", ake.Issuer, ake.Index),
				Problem: ake.Explain(source),
			})
			continue
		}
		out = append(out, &config.FieldError{Path: "jwt.issuers", Problem: e.Error()})
	}
	return out
}

// splitJoined returns the errors joined in err (errors.Join), or err alone.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ownIssuer makes Gatehouse's own tokens acceptable on jwt routes without
// extra config: its issuer, its audience, its public keys.
func ownIssuer(cfg *config.Config, s *jwtauth.Signer) jwtauth.IssuerConfig {
	keys := s.PublicKeys()
	return jwtauth.IssuerConfig{
		Issuer:     cfg.JWT.Issue.Issuer,
		Audiences:  []string{cfg.JWT.Issue.Audience},
		Algorithms: refresh.Algorithms(keys), // current and previous keys may differ in type
		Keys:       keys,
	}
}

func environ() []string { return os.Environ() }
