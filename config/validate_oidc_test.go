package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOIDCProvidersLoad(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `
login: {auto_redirect: true}
routes: [{name: app, match: {path_prefix: "/"}, auth: session}]
oidc:
  providers:
    - name: corp
      issuer: https://idp.example.com
      client_id: gatehouse
      client_secret_file: ` + secret + `
      claims: {groups: realm_access.roles}
      revalidate: 0s
      end_session: false
    - name: google
      issuer: https://accounts.google.com
      client_id: x
`
	f := filepath.Join(dir, "g.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.OIDC.Providers
	if !cfg.Login.AutoRedirect || len(ps) != 2 || ps[0].RevalidateEvery() != 0 || ps[0].EndsSession() ||
		ps[1].RevalidateEvery() != 5*time.Minute || !ps[1].EndsSession() ||
		ps[0].ClaimsOrDefault().Groups != "realm_access.roles" || ps[0].ClaimsOrDefault().User != "preferred_username" {
		t.Fatalf("providers = %+v", ps)
	}
	if err := cfg.CheckFiles(); err != nil {
		t.Fatal(err)
	}
}

func TestOIDCProvidersValidate(t *testing.T) {
	neg := -time.Second
	cfg := Default()
	cfg.OIDC.Providers = []OIDCProvider{
		{Name: "Corp", Issuer: "http://idp.example.com", ClientID: ""},
		{Name: "dup", Issuer: "http://127.0.0.1:9000", ClientID: "x", RedirectURL: "https://gate.example/cb", Revalidate: &neg,
			Claims: OIDCClaims{Groups: "a..b"}},
		{Name: "dup", Issuer: "https://idp.example.com/realms/x", ClientID: "x", ClientSecretFile: "/nonexistent/secret"},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"oidc.providers[0].name", "oidc.providers[0].issuer", "oidc.providers[0].client_id",
		"oidc.providers[1].redirect_url", "oidc.providers[1].revalidate", "oidc.providers[1].claims.groups",
		"oidc.providers[2].name",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %s in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "oidc.providers[1].issuer") {
		t.Errorf("a loopback http issuer is refused: %v", err)
	}
	if err := cfg.CheckFiles(); err == nil || !strings.Contains(err.Error(), "oidc.providers[2].client_secret_file") {
		t.Errorf("CheckFiles = %v, want the unreadable secret named", err)
	}
}
