// Package storetest is the contract test suite every auth.Store
// implementation must pass. Run it from the implementation's tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Fixture {
//			s := memstore.New(now)
//			return storetest.Fixture{Store: s}
//		})
//	}
//
// The suite never sleeps to let time pass: it moves its clock forward and
// calls the store's FastForward hook (the pattern of oauth2-proxy's
// pkg/sessions/tests), so expiry cases take milliseconds.
package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Fixture is one store under test.
type Fixture struct {
	Store auth.Store
	// FastForward makes d pass for whatever keeps time outside the clock
	// the store was given: a server's TTLs, a cache timed on the real
	// clock. nil when the store reads time only from that clock (memstore).
	// It must keep the store's observable semantics: what has expired
	// after d in real time has expired after FastForward(d), nothing else.
	FastForward func(d time.Duration) error
}

// NewStore returns an empty store whose clock is now. The suite closes
// Fixture.Store; NewStore may also register its own t.Cleanup.
type NewStore func(t *testing.T, now func() time.Time) Fixture

// Clock is the suite's clock: real time plus whatever the test has
// fast-forwarded. It follows real time so that a server's own clock (Redis
// counts TTLs down as real time passes) and the store's stay in step. It
// is safe for concurrent use.
type Clock struct {
	t  *testing.T
	ff func(time.Duration) error

	mu     sync.Mutex
	offset time.Duration
}

// Now returns the current time of the suite.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Pass lets d go by at once: the store's FastForward hook first, then the
// clock.
func (c *Clock) Pass(d time.Duration) {
	c.t.Helper()
	if c.ff != nil {
		if err := c.ff(d); err != nil {
			c.t.Fatalf("fast-forward %v: %v", d, err)
		}
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// cases is every contract case of auth.Store, by subtest name.
var cases = []struct {
	name string
	fn   func(t *testing.T, s auth.Store, c *Clock)
}{
	{"JTIRevoked", testJTIRevoked},
	{"JTIExpiry", testJTIExpiry},
	{"JTIWeird", testJTIWeird},
	{"SubjectRevokedAt", testSubjectRevokedAt},
	{"SessionLifecycle", testSessionLifecycle},
	{"SessionIdleExpiry", testSessionIdleExpiry},
	{"SessionTouchSlides", testSessionTouchSlides},
	{"UserSessions", testUserSessions},
	{"WeirdUsersAndKeys", testWeirdUsersAndKeys},
	{"ForcedLogoutEpoch", testForcedLogoutEpoch},
	{"MaxPerUser", testMaxPerUser},
	{"SessionPages", testSessionPages},
	{"ActiveSessions", testActiveSessions},
	{"RefreshLifecycle", testRefreshLifecycle},
	{"RefreshFamilyRevoke", testRefreshFamilyRevoke},
	{"RefreshFamiliesIsolated", testRefreshFamiliesIsolated},
	{"RefreshExpiry", testRefreshExpiry},
	{"RefreshConcurrentSpend", testRefreshConcurrentSpend},
	{"RefreshReuseNamesHolder", testRefreshReuseNamesHolder},
}

// Run runs every contract case: revocations, sessions, refresh families,
// and, when the store also keeps login attempts (auth.LoginAttempts), the
// attempts cases as Attempts/<name>. Every subtest gets its own store from
// newStore and its own clock, and runs in parallel with the others.
func Run(t *testing.T, newStore NewStore) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Clock{t: t}
			f := newStore(t, c.Now)
			c.ff = f.FastForward
			t.Cleanup(func() { _ = f.Store.Close() })
			tt.fn(t, f.Store, c)
		})
	}
	t.Run("Attempts", func(t *testing.T) {
		t.Parallel()
		runAttempts(t, func(t *testing.T) auth.LoginAttempts {
			f := newStore(t, time.Now)
			t.Cleanup(func() { _ = f.Store.Close() })
			a, ok := f.Store.(auth.LoginAttempts)
			if !ok {
				t.Skipf("%T keeps no login attempts", f.Store)
			}
			return a
		})
	})
	for _, tt := range auditCases {
		t.Run("Audit/"+tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Clock{t: t}
			f := newStore(t, c.Now)
			c.ff = f.FastForward
			t.Cleanup(func() { _ = f.Store.Close() })
			a, ok := f.Store.(AuditStore)
			if !ok {
				t.Skipf("%T keeps no audit trail", f.Store)
			}
			tt.fn(t, a, c)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// weird are identifiers that must be treated as plain data: glob
// characters, protocol delimiters, a 10 KB string, and prefixes of one
// another.
var weird = []string{
	"*", "a*", "?", "[a-z]", "a\nb", "a\r\nSET x y\r\n", "a b", "",
	"{slot}", "é", strings.Repeat("j", 10*1024), "revoked:jti:x",
}

func mustRevoked(t *testing.T, s auth.Store, jti string, want bool) {
	t.Helper()
	got, err := s.JTIRevoked(ctx(t), jti)
	if err != nil {
		t.Fatalf("JTIRevoked(%.40q): %v", jti, err)
	}
	if got != want {
		t.Errorf("JTIRevoked(%.40q) = %v, want %v", jti, got, want)
	}
}

func testJTIRevoked(t *testing.T, s auth.Store, c *Clock) {
	mustRevoked(t, s, "never", false)
	if err := s.RevokeJTI(ctx(t), "tok-1", c.Now().Add(time.Hour)); err != nil {
		t.Fatalf("RevokeJTI: %v", err)
	}
	mustRevoked(t, s, "tok-1", true)
	mustRevoked(t, s, "tok-2", false)
	mustRevoked(t, s, "tok-", false)
	if err := s.RevokeJTI(ctx(t), "past", c.Now().Add(-time.Second)); err != nil {
		t.Fatalf("RevokeJTI(past exp): %v", err)
	}
	mustRevoked(t, s, "past", false)
}

func testJTIExpiry(t *testing.T, s auth.Store, c *Clock) {
	if err := s.RevokeJTI(ctx(t), "short", c.Now().Add(time.Second)); err != nil {
		t.Fatalf("RevokeJTI: %v", err)
	}
	if err := s.RevokeJTI(ctx(t), "long", c.Now().Add(time.Hour)); err != nil {
		t.Fatalf("RevokeJTI: %v", err)
	}
	mustRevoked(t, s, "short", true)
	c.Pass(1600 * time.Millisecond)
	mustRevoked(t, s, "short", false)
	mustRevoked(t, s, "long", true)
}

func testJTIWeird(t *testing.T, s auth.Store, c *Clock) {
	exp := c.Now().Add(time.Hour)
	for i, jti := range weird {
		if i%2 == 1 {
			continue // every other one stays unrevoked
		}
		if err := s.RevokeJTI(ctx(t), jti, exp); err != nil {
			t.Fatalf("RevokeJTI(%.40q): %v", jti, err)
		}
	}
	for i, jti := range weird {
		mustRevoked(t, s, jti, i%2 == 0)
	}
	mustRevoked(t, s, "x", false)
	mustRevoked(t, s, "a", false)
	mustRevoked(t, s, strings.Repeat("j", 10*1024-1), false)
}

func testSubjectRevokedAt(t *testing.T, s auth.Store, c *Clock) {
	at := time.Unix(1_700_000_000, 987_654_321)
	subs := append([]string{"alice"}, weird...)
	for _, sub := range subs {
		got, err := s.SubjectRevokedAt(ctx(t), sub)
		if err != nil || !got.IsZero() {
			t.Errorf("SubjectRevokedAt(%.40q) before revoking = %v, %v; want zero time, nil", sub, got, err)
		}
		if err := s.RevokeSubject(ctx(t), sub, at); err != nil {
			t.Fatalf("RevokeSubject(%.40q): %v", sub, err)
		}
		got, err = s.SubjectRevokedAt(ctx(t), sub)
		if err != nil {
			t.Fatalf("SubjectRevokedAt(%.40q): %v", sub, err)
		}
		if want := time.Unix(at.Unix(), 0); !got.Equal(want) {
			t.Errorf("SubjectRevokedAt(%.40q) = %v, want %v", sub, got, want)
		}
	}
	got, err := s.SubjectRevokedAt(ctx(t), "bob")
	if err != nil || !got.IsZero() {
		t.Errorf("SubjectRevokedAt(bob) = %v, %v; want zero time, nil", got, err)
	}
	later := at.Add(time.Hour)
	if err := s.RevokeSubject(ctx(t), "alice", later); err != nil {
		t.Fatalf("RevokeSubject again: %v", err)
	}
	if got, _ := s.SubjectRevokedAt(ctx(t), "alice"); !got.Equal(time.Unix(later.Unix(), 0)) {
		t.Errorf("SubjectRevokedAt(alice) after a second revocation = %v, want %v", got, later.Truncate(time.Second))
	}
}
