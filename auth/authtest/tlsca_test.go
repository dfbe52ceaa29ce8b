package authtest

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStartRedisTLS: the server answers TLS clients that trust its CA, and
// nobody else: not a plain client, not a client trusting another CA.
func TestStartRedisTLS(t *testing.T) {
	t.Parallel()
	ca := NewCA(t)
	r := StartRedisTLS(t, ca)
	ctx := context.Background()
	if err := r.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatalf("TLS client trusting the CA: %v", err)
	}
	for name, cfg := range map[string]*tls.Config{"plain": nil, "other CA": NewCA(t).ClientConfig()} {
		c := redis.NewClient(&redis.Options{Addr: r.Addr, TLSConfig: cfg, MaxRetries: -1,
			DialTimeout: time.Second, ReadTimeout: time.Second})
		err := c.Ping(ctx).Err()
		c.Close()
		if err == nil {
			t.Errorf("%s client was answered", name)
		} else if name == "other CA" && !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s client: %v, want a certificate error", name, err)
		}
	}
}

// TestCAIssue: every certificate a CA issues verifies against it for the
// loopback names and has its own serial number.
func TestCAIssue(t *testing.T) {
	t.Parallel()
	ca := NewCA(t)
	a, b := ca.Issue(t), ca.Issue(t)
	if a.Serial.Cmp(b.Serial) == 0 {
		t.Errorf("two certificates with serial %v", a.Serial)
	}
	pair, err := tls.X509KeyPair(a.CertPEM, a.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := pair.Leaf.VerifyHostname(host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}
