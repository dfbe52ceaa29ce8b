package redisstore

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// TestTLSRootCAs: with TLS and RootCAs the store talks to a TLS-only
// server whose certificate a private CA issued, and revocations work over
// it; trusting another CA, or the system roots, it gets a certificate
// error and no answer.
func TestTLSRootCAs(t *testing.T) {
	ca := authtest.NewCA(t)
	r := authtest.StartRedisTLS(t, ca)
	ctx := context.Background()

	s := newStore(t, Options{Addrs: []string{r.Addr}, TLS: true, RootCAs: ca.Pool, Timeout: 2 * time.Second})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("TLS with the server's CA: %v", err)
	}
	exp := time.Now().Add(time.Minute)
	if err := s.RevokeJTI(ctx, "tls-jti", exp); err != nil {
		t.Fatalf("RevokeJTI over TLS: %v", err)
	}

	for name, pool := range map[string]*x509.CertPool{"another CA": authtest.NewCA(t).Pool, "system roots": nil} {
		bad := newStore(t, Options{Addrs: []string{r.Addr}, TLS: true, RootCAs: pool, Timeout: 2 * time.Second})
		err := bad.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("TLS trusting %s: Ping = %v, want a certificate error", name, err)
		}
	}
	plain := newStore(t, Options{Addrs: []string{r.Addr}, Timeout: 500 * time.Millisecond})
	if err := plain.Ping(ctx); err == nil {
		t.Error("plain TCP to the TLS port: Ping succeeded; the test would prove nothing")
	}
}

// TestTLSConfig: the server name is the standalone address's host; a
// cluster or Sentinel leaves it to each dial.
func TestTLSConfig(t *testing.T) {
	if c := tlsConfig(Options{Addrs: []string{"redis.internal:6380"}}); c != nil {
		t.Errorf("TLS false: got a config %+v, want nil", c)
	}
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Addrs: []string{"redis.internal:6380"}}, "redis.internal"},
		{Options{Addrs: []string{"a:6379", "b:6379"}}, ""},
		{Options{Addrs: []string{"sentinel:26379"}, MasterName: "mymaster"}, ""},
	}
	for _, tt := range tests {
		tt.o.TLS = true
		c := tlsConfig(tt.o)
		if c.ServerName != tt.want || c.MinVersion < 0x0303 {
			t.Errorf("tlsConfig(%v, master %q): ServerName %q, MinVersion %#x; want %q, TLS 1.2+", tt.o.Addrs, tt.o.MasterName, c.ServerName, c.MinVersion, tt.want)
		}
	}
}
