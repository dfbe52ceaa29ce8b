package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// pubsubLimit is how soon a revocation made through one replica must be
// seen by the others: the PUBLISH drops their cached answers at once, so
// this is far below the 1 s of an unpublished write.
const pubsubLimit = 100 * time.Millisecond

// replicas starts n Gatehouses with the same config, keys and admin token
// on one Redis.
func replicas(t *testing.T, f *admFixture, redisAddr string, n int) []*instance {
	t.Helper()
	out := make([]*instance, n)
	for i := range out {
		out[i] = f.start(t, "redis", redisAddr, "", true)
	}
	return out
}

// request is one authenticated request: a path and its credential header.
type request struct{ path, header string }

// refusedWithin polls every request on every instance until each answers
// 401, and fails the test if that takes longer than limit. It returns the
// time taken.
func refusedWithin(t *testing.T, limit time.Duration, ins []*instance, reqs ...request) time.Duration {
	t.Helper()
	start := time.Now()
	for _, in := range ins {
		for _, r := range reqs {
			for {
				resp, _ := get(t, in.URL+r.path, r.header)
				if resp.StatusCode == http.StatusUnauthorized {
					break
				}
				if time.Since(start) > limit {
					t.Fatalf("%s%s still answers %d after %v, want 401 within %v", in.URL, r.path, resp.StatusCode, time.Since(start), limit)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	return time.Since(start)
}

// storeOps sums in's store calls other than the readiness PING, from
// /metrics.
func storeOps(t *testing.T, in *instance) float64 {
	t.Helper()
	_, body := get(t, in.AdminURL+"/metrics")
	var sum float64
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "gatehouse_store_operations_total{") && !strings.Contains(l, `op="ping"`) {
			f, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", l, err)
			}
			sum += f
		}
	}
	return sum
}

// waitCached repeats r on each instance until one answer (200) comes
// without a store call, that is from the revocation cache, so that a later
// refusal proves the cached answer was dropped. It fails after 5 s.
func waitCached(t *testing.T, ins []*instance, r request) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, in := range ins {
		for {
			before := storeOps(t, in)
			if resp, _ := get(t, in.URL+r.path, r.header); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s%s: got %d, want 200", in.URL, r.path, resp.StatusCode)
			}
			if storeOps(t, in) == before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s%s: every answer needs a store call; the revocation cache is not in use", in.URL, r.path)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// allowed fails the test unless every request answers 200 on every instance.
func allowed(t *testing.T, ins []*instance, reqs ...request) {
	t.Helper()
	for _, in := range ins {
		for _, r := range reqs {
			if resp, body := get(t, in.URL+r.path, r.header); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s%s: got %d, want 200; body %s", in.URL, r.path, resp.StatusCode, body)
			}
		}
	}
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

func TestReplicasJTIRevocation(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	f := newAdmFixture(t)
	rs := replicas(t, f, r.Addr, 3)
	a, others := rs[0], rs[1:]

	tok := request{"/api/x", bearer(f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "replica-jti"}))}
	allowed(t, rs, tok)
	waitCached(t, others, tok)
	exp := time.Now().Add(5 * time.Minute).Unix()
	adminOK(t, a, "POST", "/admin/revoke", `{"jti": "replica-jti", "exp": `+strconv.FormatInt(exp, 10)+`}`, `{"revoked":"jti"}`)
	d := refusedWithin(t, pubsubLimit, others, tok)
	t.Logf("published jti revocation seen by the other replicas in %v", d)

	// Another system writes the public schema without publishing.
	tok2 := request{"/api/x", bearer(f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "foreign-jti"}))}
	allowed(t, rs, tok2)
	waitCached(t, rs, tok2)
	if err := r.Client(t).Set(context.Background(), "gatehouse:revoked:jti:foreign-jti", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	d = refusedWithin(t, time.Second+100*time.Millisecond, rs, tok2)
	t.Logf("unpublished jti revocation seen everywhere in %v", d)
}

func TestReplicasSubjectRevocation(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	f := newAdmFixture(t)
	rs := replicas(t, f, r.Addr, 3)
	a, others := rs[0], rs[1:]

	sess := request{"/x", sessionHeader(browserLogin(t, a.URL))}
	jwt := request{"/api/x", bearer(f.idp.token(t, "alice", time.Now().Add(-time.Second), nil))}
	bobs := request{"/api/x", bearer(f.idp.token(t, "bob", time.Now().Add(-time.Second), nil))}
	allowed(t, rs, sess, jwt, bobs)
	waitCached(t, others, jwt)

	adminOK(t, a, "POST", "/admin/revoke", `{"subject": "alice"}`, `{"revoked":"subject"}`)
	revokedBy := time.Now()
	d := refusedWithin(t, pubsubLimit, others, sess, jwt)
	t.Logf("subject revocation seen by the other replicas in %v", d)
	refusedWithin(t, pubsubLimit, rs[:1], sess, jwt)
	allowed(t, rs, bobs)

	// From the next second on, a new login and a new token work everywhere.
	time.Sleep(time.Until(time.Unix(revokedBy.Unix()+1, 0)))
	fresh := request{"/x", sessionHeader(browserLogin(t, others[0].URL))}
	newJWT := request{"/api/x", bearer(f.idp.token(t, "alice", time.Now(), nil))}
	allowed(t, rs, fresh, newJWT)
	if _, body := get(t, a.AdminURL+"/metrics"); !strings.Contains(body, `gatehouse_revocations_total{kind="subject"} 1`) {
		t.Error(`replica A's /metrics lacks gatehouse_revocations_total{kind="subject"} 1`)
	}
}

func TestReplicasForcedLogout(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	f := newAdmFixture(t)
	rs := replicas(t, f, r.Addr, 2)
	a, b := rs[0], rs[1]

	sess := request{"/x", sessionHeader(browserLogin(t, a.URL))}
	other := request{"/x", sessionHeader(browserLogin(t, b.URL))}
	allowed(t, rs, sess, other)
	measureSessionMemory(t, r)

	adminOK(t, b, "GET", "/admin/sessions?user=nobody", "", `{"sessions":[]}`)
	status, list := adminDo(t, b, "Bearer "+admAdminToken, "GET", "/admin/sessions?user=alice", "")
	if status != 200 || strings.Count(list, `"user":"alice"`) != 2 {
		t.Fatalf("sessions of alice on B: got %d %s, want both sessions", status, list)
	}
	adminOK(t, a, "DELETE", "/admin/sessions?user=alice", "", `{"deleted":2}`)
	refusedWithin(t, pubsubLimit, []*instance{b, a}, sess, other)
	adminOK(t, a, "DELETE", "/admin/sessions?user=alice", "", `{"deleted":0}`)
	if _, body := get(t, a.AdminURL+"/metrics"); !strings.Contains(body, `gatehouse_revocations_total{kind="session"} 2`) {
		t.Error(`/metrics lacks gatehouse_revocations_total{kind="session"} 2`)
	}
}

// measureSessionMemory logs what Redis spends on one session key, for the
// sizing note in README.md (Running several replicas), and checks it is small.
func measureSessionMemory(t *testing.T, r *authtest.Redis) {
	t.Helper()
	ctx := context.Background()
	rdb := r.Client(t)
	keys, err := rdb.Keys(ctx, "gatehouse:session:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no session keys in Redis: %v", err)
	}
	n, err := rdb.MemoryUsage(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := rdb.MemoryUsage(ctx, "gatehouse:session-index:0:alice").Result()
	t.Logf("MEMORY USAGE: session key %d bytes; session index %d bytes (%d sessions)", n, idx, len(keys))
	if n <= 0 || n > 2048 {
		t.Errorf("a session key takes %d bytes, want 1..2048", n)
	}
}

var storeErrorRE = regexp.MustCompile(`gatehouse_store_operations_total\{op="[a-z]+",result="error"\} [1-9]`)

// TestStoreOutageLatency: with Redis dead or frozen, a request needing the
// store is answered by on_error (deny → 503) within about one store
// timeout, /readyz is 503, the errors are counted, and everything recovers
// without restarting Gatehouse.
func TestStoreOutageLatency(t *testing.T) {
	r := authtest.StartRedis(t)
	f := newAdmFixture(t)
	in := f.start(t, "redis", r.Addr, "", true)
	fresh := func(sub string) string { return bearer(f.idp.token(t, sub, time.Now(), nil)) }
	waitStatus(t, time.Second, 200, in.URL+"/api/x", fresh("alice"))

	// Frozen: CLIENT PAUSE holds every command, so calls hit store.timeout.
	if err := r.Client(t).Do(context.Background(), "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	checkDeniedQuickly(t, in, fresh("frozen"), 150*time.Millisecond)
	waitStatus(t, 5*time.Second, 200, in.URL+"/api/x", fresh("thawed"))

	// Dead: the process is killed.
	r.Stop()
	checkDeniedQuickly(t, in, fresh("dead"), 0)
	waitStatus(t, 3*time.Second, 503, in.AdminURL+"/readyz")
	if resp, _ := get(t, in.URL+"/public/x"); resp.StatusCode != 200 {
		t.Errorf("auth: none route during the outage: got %d, want 200", resp.StatusCode)
	}
	if _, body := get(t, in.AdminURL+"/metrics"); !storeErrorRE.MatchString(body) {
		t.Errorf("/metrics lacks gatehouse_store_operations_total{...,result=\"error\"}:\n%s", grepLines(body, "store_operations"))
	}
	r.Restart()
	waitStatus(t, 5*time.Second, 200, in.URL+"/api/x", fresh("back"))
	waitStatus(t, 5*time.Second, 200, in.AdminURL+"/readyz")
}

// checkDeniedQuickly sends an uncached token and wants 503 in at least
// atLeast (the store timeout was waited for) and well under the 60 s
// request timeout: under a second, about two store timeouts at most.
func checkDeniedQuickly(t *testing.T, in *instance, header string, atLeast time.Duration) {
	t.Helper()
	start := time.Now()
	resp, body := get(t, in.URL+"/api/x", header)
	d := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request during the outage: got %d %s, want 503", resp.StatusCode, body)
	}
	if d < atLeast || d > time.Second {
		t.Errorf("request during the outage took %v, want between %v and 1s (store.timeout 200ms)", d, atLeast)
	}
	t.Logf("denied during the outage in %v", d)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReplicaSubscriptionLoss: when Redis drops the replica's subscription,
// invalidations published meanwhile are lost; the replica must not keep
// answering from its cache, so a revocation written in that window is
// seen well before the cache period ends.
func TestReplicaSubscriptionLoss(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	f := newAdmFixture(t)
	in := f.start(t, "redis", r.Addr, "", true)
	tok := request{"/api/x", bearer(f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "lost-sub-jti"}))}
	waitCached(t, []*instance{in}, tok)
	rdb := r.Client(t)
	ctx := context.Background()
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "gatehouse:revoked:jti:lost-sub-jti", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	d := refusedWithin(t, 400*time.Millisecond, []*instance{in}, tok)
	t.Logf("revocation written while the subscription was down seen in %v", d)
}
