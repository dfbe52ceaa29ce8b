package jwtauth

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// refreshLog records OnJWKSRefresh calls.
type refreshLog struct {
	mu   sync.Mutex
	errs []error
}

func (r *refreshLog) record(issuer string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *refreshLog) snapshot() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func TestUnknownKidStormRefetchesAtMostOnce(t *testing.T) {
	testKeys(t)
	ic, srv := esJWKSIssuer(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	waitReady(t, v)
	v.jwks[0].mu.Lock()
	v.jwks[0].lastStart = time.Time{} // as if the first fetch were long ago
	v.jwks[0].mu.Unlock()
	before := srv.hits.Load()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			hdr := map[string]any{"kid": rand.Text()}
			_, err := v.Verify(context.Background(), signToken(t, "ES256", ecKey, hdr, claimsAt(testNow)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		wantErr(t, err, auth.ErrInvalid, "unknown signing key")
	}
	if extra := srv.hits.Load() - before; extra != 1 {
		t.Fatalf("got %d JWKS fetches for 100 unknown kids, want exactly 1", extra)
	}
}

func TestUnknownKidPicksUpRotatedKey(t *testing.T) {
	testKeys(t)
	ic, srv := esJWKSIssuer(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	waitReady(t, v)
	tok := signToken(t, "ES256", ecKey2, map[string]any{"kid": "ec2"}, claimsAt(testNow))
	srv.setBody(jwksJSON(t, []string{"ec1", "ec2"}, ecKey.Public(), ecKey2.Public()))

	// Within the 10 s window after the first fetch, no refetch happens.
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrInvalid, "unknown signing key")

	v.jwks[0].gap = 0
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify after rotation: %v", err)
	}
}

func TestJWKSFailureKeepsLastGoodKeys(t *testing.T) {
	testKeys(t)
	ic, srv := esJWKSIssuer(t)
	log := &refreshLog{}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}, OnJWKSRefresh: log.record, CacheSize: -1})
	waitReady(t, v)
	srv.failing.Store(true)
	v.jwks[0].gap = 0

	// An unknown kid forces a refetch, which fails.
	_, err := v.Verify(context.Background(), signToken(t, "ES256", ecKey, map[string]any{"kid": "zzz"}, claimsAt(testNow)))
	wantErr(t, err, auth.ErrInvalid, "unknown signing key")
	got := log.snapshot()
	if len(got) != 2 || got[0] != nil || got[1] == nil {
		t.Fatalf("got refresh outcomes %v, want [nil, error]", got)
	}
	if _, err := v.Verify(context.Background(), signToken(t, "ES256", ecKey, map[string]any{"kid": "ec1"}, claimsAt(testNow))); err != nil {
		t.Fatalf("Verify with last good keys: %v", err)
	}
	if !v.Ready() {
		t.Fatal("got Ready false after a failed refresh, want true (it was fetched once)")
	}
}

func TestJWKSUnavailableBeforeFirstFetch(t *testing.T) {
	testKeys(t)
	ic, srv := esJWKSIssuer(t)
	srv.failing.Store(true)
	log := &refreshLog{}
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}, OnJWKSRefresh: log.record})
	if v.Ready() {
		t.Fatal("got Ready true before any fetch")
	}
	tok := signToken(t, "ES256", ecKey, map[string]any{"kid": "ec1"}, claimsAt(testNow))
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, auth.ErrUnavailable, "signing keys unavailable")
	if got := log.snapshot(); len(got) != 1 || got[0] == nil {
		t.Fatalf("got refresh outcomes %v, want one error", got)
	}

	srv.failing.Store(false)
	waitReady(t, v) // Run retries after a failure
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify after recovery: %v", err)
	}
}

func TestJWKSRefusesSymmetricAndBadDocuments(t *testing.T) {
	testKeys(t)
	tests := map[string]string{
		"symmetric key": `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`,
		"not JSON":      `<html>`,
		"no keys":       `{"keys":[]}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, []byte(body))
			s := &jwksSource{issuer: testIssuer, url: srv.URL, client: http.DefaultClient, logger: newTestVerifier(t, Options{}).logger}
			if _, err := s.fetch(); err == nil {
				t.Fatalf("fetch of %s: got no error", body)
			}
			if s.keys() != nil {
				t.Fatal("got a key set after a failed fetch")
			}
		})
	}
}

func TestRunStopsWithContext(t *testing.T) {
	testKeys(t)
	ic, _ := esJWKSIssuer(t)
	v := newTestVerifier(t, Options{Issuers: []IssuerConfig{ic}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()
	for !v.Ready() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestCacheTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		cacheControl, expires string
		want                  time.Duration
	}{
		{"", "", 15 * time.Minute},
		{"max-age=600", "", 10 * time.Minute},
		{"public, max-age=5", "", time.Minute},
		{"max-age=86400", "", time.Hour},
		{"max-age=99999999999999999", "", time.Hour},
		{"no-store", "", time.Minute},
		{"", now.Add(20 * time.Minute).Format(http.TimeFormat), 20 * time.Minute},
		{"", now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{"", "garbage", time.Minute},
		{"max-age=120", now.Add(48 * time.Hour).Format(http.TimeFormat), 2 * time.Minute},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.cacheControl != "" {
			h.Set("Cache-Control", tt.cacheControl)
		}
		if tt.expires != "" {
			h.Set("Expires", tt.expires)
		}
		if got := cacheTTL(h, now); got != tt.want {
			t.Errorf("Cache-Control %q Expires %q: got %s, want %s", tt.cacheControl, tt.expires, got, tt.want)
		}
	}
}
