package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadSecretFile(t *testing.T) {
	tests := []struct{ content, want string }{
		{"secret", "secret"},
		{"secret\n", "secret"},
		{"secret\r\n", "secret"},
		{"secret\n\n", "secret\n"},
		{"secret\r\n\r\n", "secret\r\n"},
		{"secret\n\r\n", "secret\n"},
		{" secret \n", " secret "},
		{"\n", ""},
		{"", ""},
		{"sec\nret", "sec\nret"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		path := filepath.Join(dir, "s")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSecretFile(path)
		if err != nil || string(got) != tt.want {
			t.Errorf("ReadSecretFile(%q content): got %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("ReadSecretFile(missing): got %v, want a not-exist error", err)
	}
}

func TestCheckFiles(t *testing.T) {
	c := validConfig()
	if err := c.CheckFiles(); err != nil {
		t.Fatalf("valid config: got %v, want nil", err)
	}
	c.Admin.TokenFile = "testdata/keys/empty"
	c.Store.Redis.PasswordFile = "testdata/keys" // a directory
	c.JWT.Issuers[0].PublicKeyFiles = []string{"testdata/keys/idp.pem", "testdata/x.pem"}
	c.JWT.Issue.PreviousKeyFiles = []string{"testdata/keys/signing.pem", "testdata/keys/gone.pem"}
	c.Users.HtpasswdFile = "testdata/keys/newline-only"
	c.Server.TLS = ServerTLS{CertFile: "testdata/keys/tls.crt", KeyFile: "testdata/keys/empty"}
	c.Store.Redis.CAFile = "testdata/keys/ca.pem"
	want := []string{
		`server.tls.cert_file: open testdata/keys/tls.crt: no such file or directory`,
		`server.tls.key_file: "testdata/keys/empty" is empty`,
		`users.htpasswd_file: open testdata/keys/newline-only: no such file or directory`,
		`admin.token_file: "testdata/keys/empty" is empty`,
		`store.redis.password_file: read testdata/keys: is a directory`,
		`store.redis.ca_file: open testdata/keys/ca.pem: no such file or directory`,
		`jwt.issuers[0].public_key_files[1]: open testdata/x.pem: no such file or directory`,
		`jwt.issue.previous_key_files[1]: open testdata/keys/gone.pem: no such file or directory`,
	}
	assertProblems(t, "CheckFiles", c.CheckFiles(), want)

	dir := t.TempDir()
	nl := filepath.Join(dir, "nl")
	if err := os.WriteFile(nl, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = validConfig()
	c.Users.File = nl
	assertProblems(t, "CheckFiles", c.CheckFiles(), []string{`users.file: "` + nl + `" is empty`})
}
