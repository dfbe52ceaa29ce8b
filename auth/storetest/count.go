package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// countIs checks s.ActiveSessions against want.
func countIs(t *testing.T, s auth.SessionCounter, want int, when string) {
	t.Helper()
	n, err := s.ActiveSessions(ctx(t))
	if err != nil || n != want {
		t.Errorf("ActiveSessions %s = %d, %v; want %d, nil", when, n, err, want)
	}
}

// countReaches polls s.ActiveSessions until it is want (a forced logout's
// sessions may be counted until the store's background cleanup removes
// them).
func countReaches(t *testing.T, s auth.SessionCounter, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.ActiveSessions(ctx(t))
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("ActiveSessions %s = %d, %v for 10s; want %d, nil", when, n, err, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testActiveSessions(t *testing.T, st auth.Store, c *Clock) {
	s, ok := st.(auth.SessionCounter)
	if !ok {
		t.Skipf("%T keeps no session count", st)
	}
	countIs(t, s, 0, "with none")
	for _, id := range []string{"a1", "a2", "a3"} {
		create(t, st, record(id, "alice", c), time.Minute)
	}
	create(t, st, record("b1", "bob", c), time.Minute)
	create(t, st, record("short", "carol", c), 2*time.Second)
	countIs(t, s, 5, "after 5 creates")

	// Records that are not sessions are not counted.
	link := record("link", "oidc:idp:sub-1", c)
	link.Link = key("b1")
	create(t, st, link, time.Minute)
	pre := record("pre", "oidc-preauth:idp", c)
	pre.Extra = map[string]string{"nonce": "n"}
	create(t, st, pre, time.Minute)
	if _, err := st.TouchSession(ctx(t), pre.Key, time.Minute); err != nil {
		t.Fatalf("TouchSession(pre-auth record): %v", err)
	}
	countIs(t, s, 5, "with an index record and a pre-auth record")

	if ok, err := st.DeleteSession(ctx(t), key("a1")); err != nil || !ok {
		t.Fatalf("DeleteSession(a1) = %v, %v", ok, err)
	}
	countIs(t, s, 4, "after a delete")
	if _, err := st.DeleteSession(ctx(t), key("a1")); err != nil {
		t.Fatalf("DeleteSession(a1) again: %v", err)
	}
	countIs(t, s, 4, "after deleting a deleted session")

	c.Pass(3 * time.Second)
	countIs(t, s, 3, "after the 2s session expired")

	// A touch slides the counted expiry too.
	c.Pass(40 * time.Second)
	if _, err := st.TouchSession(ctx(t), key("b1"), time.Minute); err != nil {
		t.Fatalf("TouchSession(b1): %v", err)
	}
	c.Pass(30 * time.Second) // alice's expire (73 s after creation), bob's touched one does not
	countIs(t, s, 1, "after idle expiry of the untouched sessions")

	// The cap: dave's second login ends his first, counted once.
	for _, id := range []string{"d1", "d2"} {
		if err := st.CreateSession(ctx(t), record(id, "dave", c), time.Minute, 1); err != nil {
			t.Fatalf("CreateSession(%s, max 1): %v", id, err)
		}
	}
	countIs(t, s, 2, "after two logins of a user capped at 1")

	// A forced logout: counted until the store's cleanup, then not.
	for _, id := range []string{"e1", "e2", "e3"} {
		create(t, st, record(id, "erin", c), time.Minute)
	}
	countIs(t, s, 5, "with erin's 3 sessions")
	if n, err := st.DeleteUserSessions(ctx(t), "erin"); err != nil || n != 3 {
		t.Fatalf("DeleteUserSessions(erin) = %d, %v; want 3, nil", n, err)
	}
	countReaches(t, s, 2, "after erin's forced logout and cleanup")
	create(t, st, record("e4", "erin", c), time.Minute)
	countIs(t, s, 3, "after erin signs in again")
}
