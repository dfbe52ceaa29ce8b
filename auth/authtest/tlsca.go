package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority made for one test: a self-signed P-256
// root that issues server certificates for loopback names. Its methods are
// safe for concurrent use.
type CA struct {
	// PEM is the root certificate, PEM-encoded; CertFile holds the same.
	PEM      []byte
	CertFile string
	// Pool holds the root, for a client's tls.Config.RootCAs.
	Pool *x509.CertPool

	cert   *x509.Certificate
	key    crypto.Signer
	dir    string
	serial atomic.Int64
}

// caCount numbers the CAs, so that each has its own name.
var caCount atomic.Int64

// NewCA makes a CA valid from an hour ago for a day, and writes its
// certificate to ca.crt in a temporary directory.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("Gatehouse test CA %d (%s)", caCount.Add(1), t.Name())},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{PEM: pemBlock("CERTIFICATE", der), Pool: x509.NewCertPool(), cert: cert, key: key, dir: t.TempDir()}
	ca.Pool.AddCert(cert)
	ca.serial.Store(1)
	ca.CertFile = writeFile(t, ca.dir, "ca.crt", string(ca.PEM))
	return ca
}

// Leaf is a server certificate issued by a CA.
type Leaf struct {
	CertPEM, KeyPEM []byte
	Serial          *big.Int
}

// Issue returns a new server certificate for localhost, 127.0.0.1 and ::1
// (and the extra DNS names), with a serial number no other certificate of
// this CA has, valid from an hour ago for a day.
func (ca *CA) Issue(t testing.TB, dnsNames ...string) Leaf {
	t.Helper()
	return ca.IssueValid(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), dnsNames...)
}

// IssueValid is Issue with the validity period given (an expired
// certificate, one not valid yet).
func (ca *CA) IssueValid(t testing.TB, notBefore, notAfter time.Time, dnsNames ...string) Leaf {
	t.Helper()
	key := newKey(t)
	serial := big.NewInt(ca.serial.Add(1))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     append([]string{"localhost"}, dnsNames...),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", kder), Serial: serial}
}

// IssueFiles issues a certificate (see Issue) and writes it and its key to
// name.crt and name.key in a temporary directory.
func (ca *CA) IssueFiles(t testing.TB, name string) (certFile, keyFile string) {
	t.Helper()
	l := ca.Issue(t)
	dir := t.TempDir()
	return writeFile(t, dir, name+".crt", string(l.CertPEM)), writeFile(t, dir, name+".key", string(l.KeyPEM))
}

// ClientConfig returns a TLS client config that trusts only this CA.
func (ca *CA) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// StartRedisTLS starts redis-server like StartRedis, but serving TLS only
// (--port 0, and --tls-port on Addr) with a certificate that ca issued for
// the loopback names. Clients are not asked for certificates
// (--tls-auth-clients no). Client, and the readiness checks, connect with
// TLS and trust ca alone.
func StartRedisTLS(t testing.TB, ca *CA, args ...string) *Redis {
	t.Helper()
	certFile, keyFile := ca.IssueFiles(t, "redis")
	r := &Redis{
		pick: FreePort, t: t, bin: RedisServerPath(t), dir: t.TempDir(), args: args,
		tls: ca.ClientConfig(),
		tlsArgs: []string{"--tls-cert-file", certFile, "--tls-key-file", keyFile,
			"--tls-ca-cert-file", ca.CertFile, "--tls-auth-clients", "no"},
	}
	r.start()
	return r
}
