package main

// tlsTraffic: the keep-alive HTTPS client of TestServeTLSRotation (moved
// out of tls_test.go, which was over 500 lines).

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// tlsTraffic sends requests over one keep-alive client until stopped,
// counting them and keeping the first failure.
type tlsTraffic struct {
	client *http.Client
	dials  atomic.Int64 // TCP connections the client made
	ok     atomic.Int64
	mu     sync.Mutex
	err    error
	serial *big.Int // the leaf of the connection the last request used
	stop   chan struct{}
	done   sync.WaitGroup
}

func newTLSTraffic(ca *authtest.CA) *tlsTraffic {
	tr := &tlsTraffic{stop: make(chan struct{})}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: ca.ClientConfig(), ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			tr.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}}
	return tr
}

// get sends one request and checks that it was answered 200 over HTTP/2.
func (tr *tlsTraffic) get(url string) error {
	resp, err := tr.client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
		return fmt.Errorf("GET %s: %s over %s, want 200 over HTTP/2.0", url, resp.Status, resp.Proto)
	}
	tr.mu.Lock()
	tr.serial = resp.TLS.PeerCertificates[0].SerialNumber
	tr.mu.Unlock()
	tr.ok.Add(1)
	return nil
}

// run sends requests from n goroutines until stopped, paced so as not to
// load a shared machine.
func (tr *tlsTraffic) run(url string, n int) {
	for range n {
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				if err := tr.get(url); err != nil {
					tr.mu.Lock()
					if tr.err == nil {
						tr.err = err
					}
					tr.mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond) // pace, not a wait
			}
		}()
	}
}

func (tr *tlsTraffic) waitMore(t *testing.T, than int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tr.ok.Load() < than+20 {
		if time.Now().After(deadline) {
			t.Fatalf("tlsTraffic stalled: %d requests answered, want more than %d", tr.ok.Load(), than+20)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

func (tr *tlsTraffic) halt() error {
	close(tr.stop)
	tr.done.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.err
}
