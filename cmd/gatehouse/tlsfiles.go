package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
)

// loadTLSMaterial parses the TLS files the config names: the proxy
// listener's certificate pair (server.tls; the listener reads it again at
// start, see certReloader) and the Redis CA bundle (store.redis.ca_file,
// kept in m). Unreadable files are left to CheckFiles.
func loadTLSMaterial(cfg *config.Config, m *material, fail func(path string, err error)) {
	if t := cfg.Server.TLS; t.Enabled() {
		certPEM, cerr := config.ReadSecretFile(t.CertFile)
		keyPEM, kerr := config.ReadSecretFile(t.KeyFile)
		if cerr == nil && kerr == nil {
			pair, err := parseKeyPair(t.CertFile, t.KeyFile, certPEM, keyPEM)
			var ke *keyFileError
			switch {
			case errors.As(err, &ke):
				fail("server.tls.key_file", err)
			case err != nil:
				fail("server.tls.cert_file", err)
			default:
				if w := expiryWarning(pair.Leaf, time.Now()); w != "" {
					m.warnings = append(m.warnings, "server.tls.cert_file: "+w)
				}
			}
		}
	}
	if f := cfg.Store.Redis.CAFile; f != "" {
		if b, err := config.ReadSecretFile(f); err == nil {
			if m.redisCAs, err = parseCAs(b); err != nil {
				fail("store.redis.ca_file", fmt.Errorf("%s: %w", f, err))
			}
		}
	}
}

// keyFileError is a certificate pair problem that lies in the key file.
type keyFileError struct{ error }

func (e *keyFileError) Unwrap() error { return e.error }

// parseKeyPair parses a PEM certificate chain and its private key, naming
// the files in its errors; a problem with the key alone is a
// *keyFileError.
func parseKeyPair(certFile, keyFile string, certPEM, keyPEM []byte) (*tls.Certificate, error) {
	// The chain first, so that every later error is the key's.
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate first; want the server's certificate, then any intermediates, as PEM (-----BEGIN CERTIFICATE-----)", certFile)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	switch {
	case err == nil:
		return &pair, nil
	case strings.Contains(err.Error(), "does not match"):
		return nil, fmt.Errorf("%s and %s: the private key does not match the certificate", certFile, keyFile)
	default:
		return nil, &keyFileError{fmt.Errorf("%s: %w (want the certificate's private key as PEM: PKCS #8, PKCS #1 or SEC 1)", keyFile, err)}
	}
}

// expiryWarning says when leaf is not valid at now; "" when it is.
func expiryWarning(leaf *x509.Certificate, now time.Time) string {
	switch {
	case leaf == nil:
		return ""
	case now.After(leaf.NotAfter):
		return fmt.Sprintf("the certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Sprintf("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return ""
}

// parseCAs parses a PEM bundle of CA certificates. Every block must be a
// certificate that parses (x509.CertPool.AppendCertsFromPEM would skip a
// broken one silently), and there must be at least one.
func parseCAs(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q; want CERTIFICATE blocks only", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		pool.AddCert(c)
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found; want the CA certificates as PEM (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}
