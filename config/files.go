package config

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Placeholder is the text every secret shipped in deploy/ holds until it is
// replaced (deploy/README.md "Secrets and placeholders"). A file the config
// names that still contains it is refused by CheckFiles: a placeholder admin
// token is long enough to pass every other rule.
const Placeholder = "REPLACE_ME"

// ReadSecretFile reads the file at path and drops exactly one trailing
// newline ("\n" or "\r\n"), so that a secret written by an editor or by
// `echo` means the same as one written with printf. Other whitespace is kept.
// Errors are the *os.PathError of the read.
func ReadSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if b, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		return b, nil
	}
	b, _ = bytes.CutSuffix(b, []byte("\n"))
	return b, nil
}

// namedFile is a file the config names, with the key that names it.
type namedFile struct{ path, file string }

// files lists every file the config names, each with its key path, in file
// order: server.tls.cert_file and key_file, users.file, users.htpasswd_file,
// admin.token_file, store.redis.password_file and ca_file, each issuer's public_key_files and
// hmac_secret_file, jwt.issue.signing_key_file and previous_key_files.
// Unset (empty) keys are left out. Relative file names are relative to the
// process's working directory, not to the config file.
func (c *Config) files() []namedFile {
	var out []namedFile
	add := func(path, file string) {
		if file != "" {
			out = append(out, namedFile{path, file})
		}
	}
	add("server.tls.cert_file", c.Server.TLS.CertFile)
	add("server.tls.key_file", c.Server.TLS.KeyFile)
	add("users.file", c.Users.File)
	add("users.htpasswd_file", c.Users.HtpasswdFile)
	add("admin.token_file", c.Admin.TokenFile)
	add("store.redis.password_file", c.Store.Redis.PasswordFile)
	add("store.redis.ca_file", c.Store.Redis.CAFile)
	for i, is := range c.JWT.Issuers {
		p := "jwt.issuers[" + strconv.Itoa(i) + "]"
		for j, f := range is.PublicKeyFiles {
			add(p+".public_key_files["+strconv.Itoa(j)+"]", f)
		}
		add(p+".hmac_secret_file", is.HMACSecretFile)
	}
	for i, op := range c.OIDC.Providers {
		add("oidc.providers["+strconv.Itoa(i)+"].client_secret_file", op.ClientSecretFile)
	}
	add("jwt.issue.signing_key_file", c.JWT.Issue.SigningKeyFile)
	for j, f := range c.JWT.Issue.PreviousKeyFiles {
		add("jwt.issue.previous_key_files["+strconv.Itoa(j)+"]", f)
	}
	return out
}

// CheckFiles reads every file the config names (see the list under
// "files" in the README: TLS certificate and key, users, htpasswd, admin
// token, Redis password and CA, issuer keys and secrets, issuing keys) and reports, as an errors.Join of
// *FieldError, each one that cannot be read or is empty (after dropping one
// trailing newline), e.g.
// "jwt.issuers[0].public_key_files[1]: open x.pem: no such file or directory".
// It does not parse the contents. Relative file names are resolved against
// the process's working directory, not the config file's directory. It
// returns nil when every file is readable and non-empty. A file that still
// holds Placeholder is a problem too. Safe for concurrent
// use as long as c is not being modified.
func (c *Config) CheckFiles() error {
	var p problems
	for _, f := range c.files() {
		b, err := ReadSecretFile(f.file)
		switch {
		case err != nil:
			p = append(p, &FieldError{Path: f.path, Problem: err.Error()})
		case len(b) == 0:
			p.add(f.path, "%q is empty", f.file)
		case bytes.Contains(b, []byte(Placeholder)):
			p.add(f.path, "%s: still holds the shipped placeholder (%s); put the real %s there", f.file, Placeholder, placeholderWhat(f.path))
		}
	}
	return p.err()
}

// placeholderWhat names what belongs in the file at key path.
func placeholderWhat(path string) string {
	switch {
	case strings.HasPrefix(path, "users."):
		return "users"
	case strings.Contains(path, "key_file"):
		return "key"
	}
	return "secret"
}
