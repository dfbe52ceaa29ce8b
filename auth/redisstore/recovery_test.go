package redisstore

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// After Redis is back, the first store call succeeds within recoveryLimit
// (issue 9, item 13): the median of the rounds must be within it. A single
// round on a loaded machine (two busy loops beside go test -race) has been
// seen at 320 ms, and at 612 ms with six test processes on two cores, so
// one round may take up to recoveryCeiling. Before the fix the lag was up
// to a second (go-redis's dial probe), spread evenly, and a median under
// recoveryLimit was improbable: the median is what tells the fix.
const (
	recoveryLimit   = 200 * time.Millisecond
	recoveryCeiling = 900 * time.Millisecond
	recoveryRounds  = 5
)

// traffic calls the store from several goroutines in a tight loop, as a
// busy proxy would, and records when calls succeed and fail.
type traffic struct {
	mu       sync.Mutex
	mark     time.Time // successes and failures are recorded from here on
	firstOK  time.Time // the first call that succeeded after mark
	failures int       // calls that failed after mark
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func startTraffic(t *testing.T, s *Store, workers int) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel, mark: time.Now()}
	for range workers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for ctx.Err() == nil {
				_, err := s.JTIRevoked(ctx, "recovery")
				tr.record(err)
			}
		}()
	}
	t.Cleanup(tr.stop)
	return tr
}

func (tr *traffic) stop() { tr.cancel(); tr.wg.Wait() }

func (tr *traffic) record(err error) {
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !now.After(tr.mark) {
		return
	}
	if err != nil {
		tr.failures++
	} else if tr.firstOK.IsZero() {
		tr.firstOK = now
	}
}

// reset starts a new observation from now.
func (tr *traffic) reset() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.mark, tr.firstOK, tr.failures = time.Now(), time.Time{}, 0
}

func (tr *traffic) state() (firstOK time.Time, failures int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.firstOK, tr.failures
}

// waitFailing waits until calls have failed for at least d, so that the
// client has run into whatever it does after repeated dial errors.
func (tr *traffic) waitFailing(t *testing.T, d time.Duration) {
	t.Helper()
	tr.reset()
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(d)
		if ok, n := tr.state(); ok.IsZero() && n > 0 {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("store calls do not fail during the outage (%d failures, a success at %v)", n, ok)
		}
		tr.reset()
	}
}

// waitOK returns the first success at or after from, polling for at most
// 10 s.
func (tr *traffic) waitOK(t *testing.T, from time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ok, _ := tr.state(); !ok.IsZero() {
			return ok.Sub(from)
		}
		if time.Now().After(deadline) {
			t.Fatal("no store call succeeded within 10 s of Redis coming back")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRecoveryAfterFreeze: Redis is frozen (SIGSTOP) under traffic long
// enough for its listen backlog to fill, so that dials time out; after
// SIGCONT the first store call succeeds within recoveryLimit. go-redis's
// pool alone fails fast after repeated dial errors until a probe that runs
// once a second succeeds.
func TestRecoveryAfterFreeze(t *testing.T) {
	// A short backlog fills in a moment, as a long one does under load.
	r := authtest.StartRedis(t, "--tcp-backlog", "4")
	s := newStore(t, Options{Addrs: []string{r.Addr}, CacheTTL: -1})
	tr := startTraffic(t, s, 8)
	var lags []time.Duration
	for range recoveryRounds {
		r.Pause()
		tr.waitFailing(t, time.Second)
		tr.reset()
		r.Resume()
		resumed := time.Now()
		lags = append(lags, tr.waitOK(t, resumed))
	}
	checkLags(t, "after SIGCONT", lags)
}

// TestRecoveryAfterRestart: Redis is killed under traffic and started again
// on the same port; the first store call succeeds within recoveryLimit of
// the server answering a fresh connection.
func TestRecoveryAfterRestart(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, CacheTTL: -1})
	tr := startTraffic(t, s, 8)
	var lags []time.Duration
	for range recoveryRounds {
		r.Stop()
		tr.waitFailing(t, time.Second)
		tr.reset()
		accepting, stop := authtest.WhenAnswering(r.Addr)
		r.Restart()
		var at time.Time
		select {
		case at = <-accepting:
		case <-time.After(5 * time.Second):
			stop()
			t.Fatal("the restarted server did not answer a fresh connection")
		}
		lags = append(lags, tr.waitOK(t, at))
	}
	checkLags(t, "after the restarted server answers", lags)
}

// checkLags checks the rounds' lags against recoveryLimit and
// recoveryCeiling and logs them.
func checkLags(t *testing.T, what string, lags []time.Duration) {
	t.Helper()
	sorted := append([]time.Duration(nil), lags...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	median, worst := sorted[len(sorted)/2], sorted[len(sorted)-1]
	t.Logf("first successful store call %s: median %v, worst %v (rounds: %v)", what, median, worst, lags)
	if median > recoveryLimit || worst > recoveryCeiling {
		t.Errorf("first successful store call %s: median %v, worst %v; want a median within %v and no round over %v",
			what, median, worst, recoveryLimit, recoveryCeiling)
	}
}
