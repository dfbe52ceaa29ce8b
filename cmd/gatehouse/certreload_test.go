package main

import (
	"bytes"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/internal/filestat"
)

// TestCertReloaderChecks drives certReloader.check by hand: a pair edited
// in place is loaded once it has stayed unchanged for one check (not
// half-way); a missing key is logged once, not at every check, and the
// previous certificate keeps serving; a change that keeps the metadata is
// found by the full check.
func TestCertReloaderChecks(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(name, b, 0o600); err != nil { // in place: same inode
			t.Fatal(err)
		}
	}
	first := ca.Issue(t)
	write(certFile, first.CertPEM)
	write(keyFile, first.KeyPEM)
	var logs bytes.Buffer
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() *big.Int { return c.cert.Load().Leaf.SerialNumber }

	second := ca.Issue(t)
	write(certFile, second.CertPEM) // the key is not written yet
	c.check()
	if serial().Cmp(first.Serial) != 0 || strings.Contains(logs.String(), "failed") {
		t.Fatalf("half-written pair: serial %v, log %q; want the first certificate kept, nothing logged", serial(), logs.String())
	}
	write(keyFile, second.KeyPEM)
	c.check() // changed again: wait
	c.check() // quiet for one check: load
	if serial().Cmp(second.Serial) != 0 {
		t.Fatalf("after editing in place: serial %v, want %v; log %s", serial(), second.Serial, logs.String())
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		c.check()
	}
	if n := strings.Count(logs.String(), "TLS certificate reload failed"); n != 1 || !strings.Contains(logs.String(), "server.tls.key_file: open") {
		t.Errorf("missing key file: %d failure lines, want 1 naming server.tls.key_file:\n%s", n, logs.String())
	}
	if serial().Cmp(second.Serial) != 0 {
		t.Errorf("missing key file: serial %v, want the previous %v", serial(), second.Serial)
	}

	// Same size and modification time, other contents: the full check.
	write(keyFile, second.KeyPEM)
	c.check()
	c.check()
	third := ca.Issue(t)
	write(certFile, third.CertPEM)
	write(keyFile, third.KeyPEM)
	c.stats = filestat.Stat(c.certFile, c.keyFile) // as if the edit had kept size and modification time
	c.check()
	if serial().Cmp(second.Serial) != 0 {
		t.Fatalf("before the full check: serial %v, want %v still", serial(), second.Serial)
	}
	c.lastFull = time.Now().Add(-certFullCheckInterval)
	c.check()
	if serial().Cmp(third.Serial) != 0 {
		t.Errorf("after the full check: serial %v, want %v", serial(), third.Serial)
	}
}

// TestCertReloaderWarnsExpired: an expired certificate is served (there is
// nothing better) with a warning in the log.
func TestCertReloaderWarnsExpired(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	old := ca.IssueValid(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"tls.crt": string(old.CertPEM), "tls.key": string(old.KeyPEM)})
	var logs bytes.Buffer
	c, err := newCertReloader(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.cert.Load() == nil || !strings.Contains(logs.String(), "TLS certificate is not valid now") || !strings.Contains(logs.String(), "expired at") {
		t.Errorf("expired certificate at start: log %q, want a warning that it expired", logs.String())
	}
}
