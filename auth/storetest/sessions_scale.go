package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// testForcedLogoutEpoch: DeleteUserSessions ends every session of the user
// at once and counts them; a login right after it (same second) works, and
// other users are untouched.
func testForcedLogoutEpoch(t *testing.T, s auth.Store, c *Clock) {
	var keys []string
	for i := range 5 {
		rec := record(fmt.Sprintf("e%d", i), "alice", c)
		create(t, s, rec, time.Minute)
		keys = append(keys, rec.Key)
		if _, err := s.TouchSession(ctx(t), rec.Key, time.Minute); err != nil {
			t.Fatalf("TouchSession before the forced logout: %v", err)
		}
	}
	bob := record("e-bob", "bob", c)
	create(t, s, bob, time.Minute)
	n, err := s.DeleteUserSessions(ctx(t), "alice")
	if err != nil || n != 5 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 5, nil", n, err)
	}
	if ok, err := s.DeleteSession(ctx(t), keys[0]); err != nil || ok {
		t.Errorf("DeleteSession of a session the forced logout ended = %v, %v; want false, nil", ok, err)
	}
	for _, k := range keys {
		mustNotFound(t, s, k)
	}
	after := record("e-after", "alice", c)
	create(t, s, after, time.Minute)
	if _, err := s.TouchSession(ctx(t), after.Key, time.Minute); err != nil {
		t.Errorf("a login right after the forced logout: %v, want it to work", err)
	}
	if _, err := s.TouchSession(ctx(t), bob.Key, time.Minute); err != nil {
		t.Errorf("bob's session after alice's forced logout: %v", err)
	}
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(list) != 1 || list[0].Key != after.Key {
		t.Errorf("UserSessions after the forced logout = %d sessions, %v; want only the new one", len(list), err)
	}
	if n, err := s.DeleteUserSessions(ctx(t), "alice"); err != nil || n != 1 {
		t.Errorf("second DeleteUserSessions = %d, %v; want 1, nil", n, err)
	}
	mustNotFound(t, s, after.Key)
}

// testMaxPerUser: a login past the cap ends the user's session closest to
// expiry (the oldest, for sessions not used since), never the new one nor
// another user's.
func testMaxPerUser(t *testing.T, s auth.Store, c *Clock) {
	const max = 3
	var keys []string
	for i := range max + 2 {
		rec := record(fmt.Sprintf("m%d", i), "alice", c)
		if err := s.CreateSession(ctx(t), rec, time.Minute, max); err != nil {
			t.Fatalf("CreateSession %d: %v", i, err)
		}
		keys = append(keys, rec.Key)
		c.Pass(5 * time.Millisecond) // distinct expiries
	}
	bob := record("m-bob", "bob", c)
	if err := s.CreateSession(ctx(t), bob, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, s, keys[0])
	mustNotFound(t, s, keys[1])
	for _, k := range keys[2:] {
		if _, err := s.TouchSession(ctx(t), k, time.Minute); err != nil {
			t.Errorf("session within the cap: %v", err)
		}
	}
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(list) != max {
		t.Errorf("UserSessions = %d sessions, %v; want %d", len(list), err, max)
	}
	if _, err := s.TouchSession(ctx(t), bob.Key, time.Minute); err != nil {
		t.Errorf("bob's session: %v", err)
	}
	// A cap of 1 keeps only the newest.
	one := record("m-one", "alice", c)
	if err := s.CreateSession(ctx(t), one, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TouchSession(ctx(t), one.Key, time.Minute); err != nil {
		t.Errorf("the new session with a cap of 1: %v", err)
	}
	for _, k := range keys[2:] {
		mustNotFound(t, s, k)
	}
}

// testSessionPages: UserSessions pages through every session exactly once
// when nothing changes, with bounded pages and a final empty next.
func testSessionPages(t *testing.T, s auth.Store, c *Clock) {
	var want []string
	for i := range 7 {
		rec := record(fmt.Sprintf("p%d", i), "alice", c)
		create(t, s, rec, time.Minute)
		want = append(want, rec.Key)
	}
	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := s.UserSessions(ctx(t), "alice", cursor, 3)
		if err != nil {
			t.Fatalf("UserSessions(cursor %q): %v", cursor, err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d sessions, limit 3", len(page))
		}
		for _, r := range page {
			got = append(got, r.Key)
		}
		pages++
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatalf("no last page after %d pages", pages)
		}
		cursor = next
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("paged through %d sessions in %d pages; want each of the 7 once, in 3 pages", len(got), pages)
	}
	for _, bad := range []string{"x", "-1", "01", " 1"} {
		if _, _, err := s.UserSessions(ctx(t), "alice", bad, 3); !errors.Is(err, auth.ErrBadCursor) {
			t.Errorf("UserSessions(cursor %q) = %v, want auth.ErrBadCursor", bad, err)
		}
	}
	page, next, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(page) != 7 || next != "" {
		t.Errorf("UserSessions(limit 0) = %d, %q, %v; want all 7 with the default limit", len(page), next, err)
	}
}
