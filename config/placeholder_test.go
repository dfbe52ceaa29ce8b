package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckFilesRefusesPlaceholders: a file the config names that still
// holds the shipped placeholder text (deploy/: REPLACE_ME) is a problem
// naming the key and the file, whatever else the file holds; the same
// files with real content pass (issue 10).
func TestCheckFilesRefusesPlaceholders(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := write("admin-token", "REPLACE_ME-with-a-long-random-token-openssl-rand-hex-32\n")
	redis := write("redis-password", "REPLACE_ME-with-a-long-random-password-openssl-rand-hex-32")
	hmac := write("hmac", "abcdefghijklmnopqrstuvwxyz0123456789 REPLACE_ME")
	signing := write("signing.pem", "REPLACE_ME: a PEM private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)\n")
	idp := write("idp.pem", "REPLACE_ME: your identity provider's PEM public key\n")
	users := write("users.yaml", "users:\n  - username: REPLACE_ME\n    password_hash: \"REPLACE_ME: a bcrypt hash\"\n")

	c := validConfig()
	c.Admin.TokenFile = token
	c.Store.Redis.PasswordFile = redis
	c.Users.File = users
	c.JWT.Issuers[0].PublicKeyFiles = []string{"testdata/keys/idp.pem", idp}
	c.JWT.Issuers = append(c.JWT.Issuers, Issuer{Issuer: "https://hs.example.com", Audiences: []string{"a"}, Algorithms: []string{"HS256"}, HMACSecretFile: hmac})
	c.JWT.Issue.SigningKeyFile = signing
	assertProblems(t, "CheckFiles with placeholders", c.CheckFiles(), []string{
		"users.file: " + users + ": still holds the shipped placeholder (REPLACE_ME); put the real users there",
		"admin.token_file: " + token + ": still holds the shipped placeholder (REPLACE_ME); put the real secret there",
		"store.redis.password_file: " + redis + ": still holds the shipped placeholder (REPLACE_ME); put the real secret there",
		"jwt.issuers[0].public_key_files[1]: " + idp + ": still holds the shipped placeholder (REPLACE_ME); put the real key there",
		"jwt.issuers[1].hmac_secret_file: " + hmac + ": still holds the shipped placeholder (REPLACE_ME); put the real secret there",
		"jwt.issue.signing_key_file: " + signing + ": still holds the shipped placeholder (REPLACE_ME); put the real key there",
	})

	// Filled in: no problem. "replace_me" in another case is not the placeholder.
	write("admin-token", "0123456789abcdef0123456789abcdef replace_me")
	c = validConfig()
	c.Admin.TokenFile = token
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles with real files: %v", err)
	}
}
