package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/internal/filestat"
)

// How the certificate files are watched: their metadata (identity through
// symlinks, size, modification time) every certPollInterval, their
// contents every certFullCheckInterval. A change is loaded once the files
// have stayed unchanged for one poll, so a pair whose two files are
// replaced one after the other is not loaded half-way.
const (
	certPollInterval      = 500 * time.Millisecond
	certFullCheckInterval = 10 * time.Second
)

// certReloader holds the proxy listener's certificate and replaces it when
// server.tls.cert_file or key_file changes on disk: a file renamed over,
// edited in place, or a Kubernetes Secret volume's "..data" symlink swap
// (cert-manager). It polls the files through their paths, symlinks
// followed. Connections keep the certificate they were made with; new
// handshakes get the new one. A pair that does not load is logged and the
// previous certificate keeps serving. Make it with newCertReloader;
// getCertificate is safe for concurrent use, run is called once.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	interval          time.Duration // 0: certPollInterval
	cert              atomic.Pointer[tls.Certificate]

	// Owned by run.
	stats    []os.FileInfo // the files' metadata at the last poll
	sum      [32]byte      // digest of the contents last loaded or refused
	lastFull time.Time     // when the contents were last compared
	pending  bool          // the metadata changed since the last load
}

// newCertReloader loads the pair. From then on a change to the files is
// seen, even before run starts.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, lastFull: time.Now()}
	c.stats = filestat.Stat(c.certFile, c.keyFile)
	pair, sum, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert.Store(pair)
	c.sum = sum
	c.warnInvalid(pair)
	return c, nil
}

// serverTLSConfig is the proxy listener's TLS config: TLS 1.2 or later
// (Go's default cipher suites), the certificate from certs. http.Server's
// ServeTLS adds HTTP/2 and HTTP/1.1 to ALPN; a WebSocket client asks for
// http/1.1.
func serverTLSConfig(certs *certReloader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate}
}

// getCertificate is tls.Config.GetCertificate: the current certificate.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// run polls the files until ctx ends.
func (c *certReloader) run(ctx context.Context) {
	interval := c.interval
	if interval <= 0 {
		interval = certPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.check()
		}
	}
}

// check loads the files when their metadata changed at an earlier poll and
// has stayed the same since, or when a full check finds their contents
// changed. Contents already loaded or refused are not loaded again.
func (c *certReloader) check() {
	stats := filestat.Stat(c.certFile, c.keyFile)
	if !filestat.Same(stats, c.stats) {
		c.stats, c.pending = stats, true
		return
	}
	if !c.pending && time.Since(c.lastFull) < certFullCheckInterval {
		return
	}
	c.pending, c.lastFull = false, time.Now()
	pair, sum, err := c.load()
	if !filestat.Same(filestat.Stat(c.certFile, c.keyFile), stats) {
		c.pending = true // changed while being read: look again
		return
	}
	if sum == c.sum {
		return
	}
	c.sum = sum
	if err != nil {
		c.log.Error("TLS certificate reload failed; the previous certificate keeps serving",
			"cert_file", c.certFile, "key_file", c.keyFile, "error", err.Error())
		return
	}
	c.cert.Store(pair)
	c.log.Info("TLS certificate reloaded", "cert_file", c.certFile,
		"serial", pair.Leaf.SerialNumber.String(), "not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	c.warnInvalid(pair)
}

// warnInvalid logs a warning when pair's certificate has expired or is not
// valid yet: clients will refuse it, but serving it is all there is to do.
func (c *certReloader) warnInvalid(pair *tls.Certificate) {
	if w := expiryWarning(pair.Leaf, time.Now()); w != "" {
		c.log.Warn("TLS certificate is not valid now", "cert_file", c.certFile, "problem", w)
	}
}

// load reads and parses both files. sum is the digest of what was read,
// also when the pair does not parse (an unreadable file hashes as a
// marker).
func (c *certReloader) load() (*tls.Certificate, [32]byte, error) {
	certPEM, cerr := config.ReadSecretFile(c.certFile)
	keyPEM, kerr := config.ReadSecretFile(c.keyFile)
	h := sha256.New()
	for _, b := range [][]byte{certPEM, keyPEM} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	switch {
	case cerr != nil:
		return nil, sum, fmt.Errorf("server.tls.cert_file: %w", cerr)
	case kerr != nil:
		return nil, sum, fmt.Errorf("server.tls.key_file: %w", kerr)
	}
	pair, err := parseKeyPair(c.certFile, c.keyFile, certPEM, keyPEM)
	if err != nil {
		return nil, sum, fmt.Errorf("server.tls: %w", err)
	}
	return pair, sum, nil
}
