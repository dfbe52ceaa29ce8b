package main

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// statusOf is url's status with the optional Authorization header, or 0
// when it does not answer.
func statusOf(client *http.Client, url, authorization string) int {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// whenReadyz polls /readyz in a tight loop in the background until it
// answers want, and sends that moment; wait collects it (failing after
// 5 s) and returns the time from since.
func whenReadyz(t *testing.T, in *instance, want int) (wait func(since time.Time) time.Duration) {
	return whenStatus(t, in.AdminURL+"/readyz", "", want)
}

// whenStatus is whenReadyz for any URL, with an optional Authorization.
func whenStatus(t *testing.T, url, authorization string, want int) (wait func(since time.Time) time.Duration) {
	at := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		client := &http.Client{Timeout: 2 * time.Second}
		defer client.CloseIdleConnections()
		for {
			if statusOf(client, url, authorization) == want {
				at <- time.Now()
				return
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func(since time.Time) time.Duration {
		t.Helper()
		select {
		case a := <-at:
			return a.Sub(since)
		case <-time.After(5 * time.Second):
			close(done)
			t.Fatalf("%s did not answer %d within 5 s", url, want)
			return 0
		}
	}
}

// TestReadyzFollowsStoreOutages: /readyz turns 503 soon after a store call
// fails (a frozen Redis: within about one store timeout of the failure; a
// killed one: at once), and 200 again within about 200 ms of Redis
// answering, after a freeze (SIGSTOP, SIGCONT) and after a restart. It
// used to check once a second, both ways.
func TestReadyzFollowsStoreOutages(t *testing.T) {
	r := authtest.StartRedis(t)
	in, p := startJWT(t, "redis", "deny", r.Addr) // store.timeout 200ms
	waitStatus(t, 5*time.Second, 200, in.AdminURL+"/readyz")
	failCall := func() time.Time {
		t.Helper()
		// A fresh subject is never cached: the request needs the store.
		tok := p.token(t, "sub-"+time.Now().Format("150405.000000000"), time.Now(), nil)
		if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+tok); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("request during the outage: status %d, want 503", resp.StatusCode)
		}
		return time.Now()
	}
	const rounds = 3
	var down, up, served, downKilled, upRestarted []time.Duration
	for round := range rounds {
		r.Pause()
		wait := whenReadyz(t, in, 503)
		down = append(down, wait(failCall()))
		// A request whose answer is not cached: the first 200 after SIGCONT
		// is when the proxy serves again.
		tok := p.token(t, fmt.Sprintf("frozen-%d", round), time.Now(), nil)
		waitServed := whenStatus(t, in.URL+"/api/x", "Bearer "+tok, 200)
		wait = whenReadyz(t, in, 200)
		r.Resume()
		resumed := time.Now()
		up = append(up, wait(resumed))
		served = append(served, waitServed(resumed))
	}
	for range rounds {
		r.Stop()
		wait := whenReadyz(t, in, 503)
		downKilled = append(downKilled, wait(failCall()))
		wait = whenReadyz(t, in, 200)
		answering, stop := authtest.WhenAnswering(r.Addr)
		r.Restart()
		var at time.Time
		select {
		case at = <-answering:
		case <-time.After(5 * time.Second):
			stop()
			t.Fatal("the restarted server did not answer a fresh connection")
		}
		upRestarted = append(upRestarted, wait(at))
	}
	// Medians within the targets; single rounds on a loaded machine may
	// take longer, but nowhere near the old second.
	checkReadyzLags(t, "/readyz 503 after the first failed call, frozen Redis", down, 450*time.Millisecond, time.Second)
	checkReadyzLags(t, "/readyz 200 after SIGCONT", up, 200*time.Millisecond, 600*time.Millisecond)
	checkReadyzLags(t, "a jwt route (uncached) 200 after SIGCONT", served, 200*time.Millisecond, 600*time.Millisecond)
	checkReadyzLags(t, "/readyz 503 after the first failed call, killed Redis", downKilled, 250*time.Millisecond, time.Second)
	checkReadyzLags(t, "/readyz 200 after the restarted Redis answers", upRestarted, 200*time.Millisecond, 600*time.Millisecond)
}

func checkReadyzLags(t *testing.T, what string, lags []time.Duration, median, ceiling time.Duration) {
	t.Helper()
	sorted := append([]time.Duration(nil), lags...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	m, worst := sorted[len(sorted)/2], sorted[len(sorted)-1]
	t.Logf("%s: median %v, worst %v (rounds: %v)", what, m, worst, lags)
	if m > median || worst > ceiling {
		t.Errorf("%s: median %v, worst %v; want a median within %v and no round over %v", what, m, worst, median, ceiling)
	}
}
