package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// gaugeConfig proxies everything, unauthenticated, to {{block}}.
const gaugeConfig = `
listen: "{{listen}}"
upstream: "{{block}}"
admin: {listen: "{{admin}}"}
routes:
  - {name: open, match: {path_prefix: "/"}, auth: none}
`

// TestStateGaugesMemory: in-flight requests are counted while they run, the
// memory store is up, the revocation subscription gauge is absent (there is
// none), and the last-reload gauge is 1 after start, 0 for as long as a
// refused config is in place, and 1 again after a good one.
func TestStateGaugesMemory(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	block := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	t.Cleanup(block.Close)
	t.Cleanup(func() { closeOnce(release) })
	in := startGatehouse(t, strings.ReplaceAll(gaugeConfig, "{{block}}", block.URL), nil)

	waitMetric(t, in, 10*time.Second, "gatehouse_store_up", 1)
	waitMetric(t, in, 10*time.Second, "gatehouse_config_last_reload_success", 1)
	if ts := metricValue(t, in, "gatehouse_config_last_reload_timestamp_seconds"); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("gatehouse_config_last_reload_timestamp_seconds %v, want about now", ts)
	}
	if _, body := get(t, in.AdminURL+"/metrics"); strings.Contains(body, "gatehouse_revocation_subscription_up") {
		t.Error("the memory store exports gatehouse_revocation_subscription_up")
	}

	if got := metricValue(t, in, "gatehouse_inflight_requests"); got != 0 {
		t.Errorf("gatehouse_inflight_requests %v before any request, want 0", got)
	}
	done := make(chan struct{}, 2)
	for range 2 {
		go func() {
			if resp, err := http.Get(in.URL + "/slow"); err == nil {
				resp.Body.Close()
			}
			done <- struct{}{}
		}()
	}
	<-arrived
	<-arrived
	waitMetric(t, in, 10*time.Second, "gatehouse_inflight_requests", 2)
	closeOnce(release)
	<-done
	<-done
	waitGauge(t, in, 10*time.Second, "gatehouse_inflight_requests", 0)

	// A refused reload: 0, and still 0 at later scrapes.
	b, err := os.ReadFile(filepath.Join(in.Dir, "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	writeConfig(t, in, strings.Replace(cfg, "auth: none", "auth: nonee", 1))
	waitMetric(t, in, 10*time.Second, reloadErr, 1)
	failedAt := metricValue(t, in, "gatehouse_config_last_reload_timestamp_seconds")
	for range 3 {
		if got := metricValue(t, in, "gatehouse_config_last_reload_success"); got != 0 {
			t.Fatalf("gatehouse_config_last_reload_success %v while the refused config is in place, want 0", got)
		}
	}
	// Fixed again: 1, with a later timestamp.
	writeConfig(t, in, cfg)
	waitMetric(t, in, 10*time.Second, reloadOK, 1)
	if got := metricValue(t, in, "gatehouse_config_last_reload_success"); got != 1 {
		t.Errorf("gatehouse_config_last_reload_success %v after a good reload, want 1", got)
	}
	if ts := metricValue(t, in, "gatehouse_config_last_reload_timestamp_seconds"); ts < failedAt {
		t.Errorf("timestamp %v after the good reload, before the refused one's %v", ts, failedAt)
	}
}

// TestStateGaugesRedis follows a real Redis going away and coming back:
// gatehouse_store_up and gatehouse_revocation_subscription_up drop to 0 and
// return to 1.
func TestStateGaugesRedis(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	in := newAdmFixture(t).start(t, "redis", r.Addr, "", false)
	const up, sub = "gatehouse_store_up", "gatehouse_revocation_subscription_up"
	waitMetric(t, in, 10*time.Second, up, 1)
	waitMetric(t, in, 10*time.Second, sub, 1)
	r.Stop()
	waitGauge(t, in, 20*time.Second, up, 0)
	waitGauge(t, in, 20*time.Second, sub, 0)
	r.Restart()
	waitGauge(t, in, 30*time.Second, up, 1)
	waitGauge(t, in, 30*time.Second, sub, 1)
}

// waitGauge polls a gauge until it reads want, for at most d; unlike
// waitMetric it may go down.
func waitGauge(t *testing.T, in *instance, d time.Duration, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := metricValue(t, in, series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %v, want %v", series, got, d, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
