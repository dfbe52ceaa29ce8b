package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// validConfig returns a config that passes Validate and CheckFiles (run
// from the package directory), for tests to break one rule at a time.
func validConfig() *Config {
	c := Default()
	c.Users.File = "testdata/keys/users.yaml"
	c.Admin.TokenFile = "testdata/keys/admin-token"
	c.JWT.Issuers = []Issuer{{
		Issuer:         "https://idp.example.com",
		Audiences:      []string{"my-api"},
		Algorithms:     []string{"RS256", "ES256"},
		PublicKeyFiles: []string{"testdata/keys/idp.pem"},
		Claims:         map[string]string{"user": "sub", "email": "email", "groups": "groups"},
	}}
	c.JWT.Issue.SigningKeyFile = "testdata/keys/signing.pem"
	c.Routes = []Route{
		{Name: "public", Match: Match{PathPrefix: "/public/"}, Auth: "none"},
		{Name: "api", Match: Match{PathPrefix: "/api/", Methods: []string{"GET", "POST"}}, Auth: "jwt",
			Require: Require{Groups: []string{"staff"}, Scopes: []string{"read"}}},
		{Name: "app", Match: Match{PathPrefix: "/"}, Auth: "session"},
	}
	return &c
}

// assertProblems checks that err holds exactly the FieldErrors want, in order.
func assertProblems(t *testing.T, what string, err error, want []string) {
	t.Helper()
	var got []string
	for _, fe := range FieldErrors(err) {
		got = append(got, fe.Error())
	}
	if err != nil && len(got) == 0 {
		t.Errorf("%s: got non-field error %v", what, err)
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// writeConfig writes yaml to a temporary file and returns its name.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(strings.TrimLeft(yaml, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
