package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckNamesAlgorithmWithoutKey is issue 10's case: algorithms
// [RS256, ES256] with one RSA key. check names the algorithm that has no
// key, by its key path, with the keys there are and what to do; it used to
// say "no configured key can verify algorithms RS256, ES256".
func TestCheckNamesAlgorithmWithoutKey(t *testing.T) {
	t.Parallel()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	writeFiles(t, dir, map[string]string{
		"idp.pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"gatehouse.yaml": `
jwt:
  issuers:
    - issuer: https://idp.example.com
      audiences: [api]
      algorithms: [RS256, ES256, EdDSA]
      public_key_files: ["` + dir + `/idp.pem"]
routes:
  - {name: api, match: {path_prefix: "/"}, auth: jwt}
`,
	})
	_, stderr, err := runCmd(t, "", "check", "-config", cfg)
	if !errors.Is(err, errReported) {
		t.Fatalf("check: err = %v, want problems reported (exit 1); output:\n%s", err, stderr)
	}
	want := "jwt.issuers[0].algorithms[1]: ES256 has no key among public_key_files (the key is: RSA 2048); remove ES256 or add an EC P-256 key\n" +
		"jwt.issuers[0].algorithms[2]: EdDSA has no key among public_key_files (the key is: RSA 2048); remove EdDSA or add an Ed25519 key\n"
	if stderr != want {
		t.Errorf("check output:\n%s\nwant:\n%s", stderr, want)
	}
	writeFiles(t, dir, map[string]string{"gatehouse.yaml": strings.Replace(readFile(t, cfg), "[RS256, ES256, EdDSA]", "[RS256]", 1)})
	if out, stderr, err := runCmd(t, "", "check", "-config", cfg); err != nil {
		t.Errorf("check with [RS256]: %v\n%s%s", err, out, stderr)
	}
}
