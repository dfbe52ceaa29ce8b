package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/redis/go-redis/v9"
)

const redisAuthConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
store:
  type: redis
  timeout: 300ms
  redis: {addrs: ["{{redis}}"], username: "{{user}}", password_file: "{{dir}}/redis-password", tls: {{tls}}}
jwt:
  issuers:
    - {issuer: "https://idp.test", audiences: [my-api], algorithms: [ES256], public_key_files: ["{{dir}}/idp.pub.pem"]}
routes:
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
`

func redisAuthCfg(addr, user string, tls bool) string {
	return strings.NewReplacer("{{redis}}", addr, "{{user}}", user, "{{tls}}", strconv.FormatBool(tls)).Replace(redisAuthConfig)
}

// TestRedisACLUser: store.redis.username and password_file authenticate as
// an ACL user; a wrong password leaves Gatehouse up but not ready, and
// jwt routes answer 503.
func TestRedisACLUser(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	admin := r.Client(t)
	ctx := context.Background()
	for _, cmd := range [][]any{
		{"ACL", "SETUSER", "gatehouse", "on", ">s3cret-redis-pw", "~gatehouse:*", "&gatehouse:*", "+@all"},
		{"ACL", "SETUSER", "default", "off"}, // new unauthenticated connections are refused from now on
	} {
		if err := admin.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	key, _, pub := ecKeyPEM(t)
	p := idp{key}
	good := startGatehouse(t, redisAuthCfg(r.Addr, "gatehouse", false), map[string]string{"idp.pub.pem": pub, "redis-password": "s3cret-redis-pw\n"})
	waitStatus(t, 5*time.Second, 200, good.AdminURL+"/readyz")
	tok := p.token(t, "alice", time.Now(), map[string]any{"jti": "acl-jti"})
	waitStatus(t, time.Second, 200, good.URL+"/api/x", "Authorization: Bearer "+tok)
	if err := admin.Set(ctx, "gatehouse:revoked:jti:acl-jti", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 1500*time.Millisecond, 401, good.URL+"/api/x", "Authorization: Bearer "+tok)
	if strings.Contains(good.stdout.String(), "s3cret-redis-pw") {
		t.Error("the Redis password appears in the log")
	}

	bad := startGatehouse(t, redisAuthCfg(r.Addr, "gatehouse", false), map[string]string{"idp.pub.pem": pub, "redis-password": "wrong"})
	if resp, _ := get(t, bad.AdminURL+"/readyz"); resp.StatusCode != 503 {
		t.Errorf("wrong Redis password: /readyz %d, want 503", resp.StatusCode)
	}
	if resp, _ := get(t, bad.URL+"/api/x", "Authorization: Bearer "+p.token(t, "bob", time.Now(), nil)); resp.StatusCode != 503 {
		t.Errorf("wrong Redis password: jwt route %d, want 503", resp.StatusCode)
	}
}

// TestRedisTLS runs the real binary against a TLS-only Redis port whose
// certificate is trusted through SSL_CERT_FILE (Go's system roots), as an
// operator would install a private CA.
func TestRedisTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSignedCert(t, dir)
	r := authtest.StartRedis(t, "--tls-port", authtest.AnyPort, "--tls-cert-file", certFile,
		"--tls-key-file", keyFile, "--tls-auth-clients", "no")
	if err := r.Client(t).Do(context.Background(), "ACL", "SETUSER", "gatehouse", "on", ">tls-pw", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", certFile) // inherited by the subprocess only
	key, _, pub := ecKeyPEM(t)
	up, _ := upstream(t)
	bin := buildBinary(t)
	tlsAddr := net.JoinHostPort("127.0.0.1", r.ExtraPort(0))
	proc := startProcess(t, bin, up.URL, redisAuthCfg(tlsAddr, "gatehouse", true), map[string]string{"idp.pub.pem": pub, "redis-password": "tls-pw"})
	waitStatus(t, 5*time.Second, 200, proc.AdminURL+"/readyz")
	tok := idp{key}.token(t, "alice", time.Now(), map[string]any{"jti": "tls-jti"})
	waitStatus(t, time.Second, 200, proc.URL+"/api/x", "Authorization: Bearer "+tok)
	if err := r.Client(t).Set(context.Background(), "gatehouse:revoked:jti:tls-jti", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 1500*time.Millisecond, 401, proc.URL+"/api/x", "Authorization: Bearer "+tok)
	// The TLS port really is TLS: a plain client gets no answer from it.
	plain := redis.NewClient(&redis.Options{Addr: tlsAddr, Username: "gatehouse", Password: "tls-pw", DialTimeout: time.Second, ReadTimeout: time.Second})
	defer plain.Close()
	if err := plain.Ping(context.Background()).Err(); err == nil {
		t.Error("a plain-text client was answered on the TLS port; the test would prove nothing")
	}
}

// selfSignedCert writes a P-256 certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
