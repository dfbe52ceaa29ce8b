package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// key returns a session key the way Gatehouse makes one: the hex SHA-256
// of a session ID.
func key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func record(id, user string, c *Clock) auth.SessionRecord {
	now := c.Now()
	return auth.SessionRecord{
		Key: key(id), User: user, Email: user + "@example.com",
		Groups:  []string{"staff", "ops"},
		Created: now, LastSeen: now,
		IP: "192.0.2.7", UserAgent: "test-agent/1.0",
	}
}

func create(t *testing.T, s auth.Store, rec auth.SessionRecord, idle time.Duration) {
	t.Helper()
	if err := s.CreateSession(ctx(t), rec, idle, 0); err != nil {
		t.Fatalf("CreateSession(user %.40q): %v", rec.User, err)
	}
}

func mustNotFound(t *testing.T, s auth.Store, key string) {
	t.Helper()
	rec, err := s.TouchSession(ctx(t), key, time.Minute)
	if !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TouchSession(%.16q) = user %q, %v; want auth.ErrNotFound", key, rec.User, err)
	}
}

func sameRecord(t *testing.T, got, want auth.SessionRecord) {
	t.Helper()
	if got.Key != want.Key || got.User != want.User || got.Email != want.Email ||
		!slices.Equal(got.Groups, want.Groups) || got.IP != want.IP || got.UserAgent != want.UserAgent {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if d := got.Created.Sub(want.Created); d < -time.Second || d > time.Second {
		t.Errorf("got Created %v, want %v", got.Created, want.Created)
	}
}

func testSessionLifecycle(t *testing.T, s auth.Store, c *Clock) {
	rec := record("id-1", "alice", c)
	create(t, s, rec, time.Minute)
	c.Pass(1100 * time.Millisecond)
	before := c.Now()
	got, err := s.TouchSession(ctx(t), rec.Key, time.Minute)
	if err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	sameRecord(t, got, rec)
	if got.LastSeen.Before(before.Add(-time.Second)) || got.LastSeen.After(c.Now().Add(time.Second)) {
		t.Errorf("got LastSeen %v after touch at %v", got.LastSeen, before)
	}
	mustNotFound(t, s, key("id-2"))
	ok, err := s.DeleteSession(ctx(t), rec.Key)
	if err != nil || !ok {
		t.Errorf("DeleteSession = %v, %v; want true, nil", ok, err)
	}
	mustNotFound(t, s, rec.Key)
	ok, err = s.DeleteSession(ctx(t), rec.Key)
	if err != nil || ok {
		t.Errorf("DeleteSession again = %v, %v; want false, nil", ok, err)
	}
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(list) != 0 {
		t.Errorf("UserSessions after delete = %d sessions, %v; want 0, nil", len(list), err)
	}
}

func testSessionIdleExpiry(t *testing.T, s auth.Store, c *Clock) {
	short, long := record("short", "alice", c), record("long", "alice", c)
	create(t, s, short, time.Second)
	create(t, s, long, time.Minute)
	if _, err := s.TouchSession(ctx(t), short.Key, time.Second); err != nil {
		t.Fatalf("TouchSession right after create: %v", err)
	}
	c.Pass(1600 * time.Millisecond)
	mustNotFound(t, s, short.Key)
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(list) != 1 || list[0].Key != long.Key {
		t.Errorf("UserSessions = %+v, %v; want only the long session", list, err)
	}
	n, err := s.DeleteUserSessions(ctx(t), "alice")
	if err != nil || n != 1 {
		t.Errorf("DeleteUserSessions = %d, %v; want 1, nil", n, err)
	}
}

func testSessionTouchSlides(t *testing.T, s auth.Store, c *Clock) {
	rec := record("slide", "alice", c)
	create(t, s, rec, 1200*time.Millisecond)
	for i := range 3 {
		c.Pass(700 * time.Millisecond)
		if _, err := s.TouchSession(ctx(t), rec.Key, 1200*time.Millisecond); err != nil {
			t.Fatalf("TouchSession %d after 700ms: %v (expiry did not slide)", i, err)
		}
	}
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("UserSessions = %d sessions, %v; want 1, nil", len(list), err)
	}
	if ls := list[0].LastSeen; ls.Before(c.Now().Add(-time.Second)) || ls.After(c.Now().Add(time.Second)) {
		t.Errorf("got LastSeen %v, want about %v (last touch)", ls, c.Now())
	}
}

func testUserSessions(t *testing.T, s auth.Store, c *Clock) {
	for _, user := range []string{"nobody", "alice"} {
		list, _, err := s.UserSessions(ctx(t), user, "", 0)
		if err != nil || len(list) != 0 {
			t.Errorf("UserSessions(%q) with none = %d, %v; want 0, nil", user, len(list), err)
		}
		n, err := s.DeleteUserSessions(ctx(t), user)
		if err != nil || n != 0 {
			t.Errorf("DeleteUserSessions(%q) with none = %d, %v; want 0, nil", user, n, err)
		}
	}
	var keys []string
	for _, id := range []string{"a1", "a2", "a3"} {
		rec := record(id, "alice", c)
		create(t, s, rec, time.Minute)
		keys = append(keys, rec.Key)
	}
	bob := record("b1", "bob", c)
	create(t, s, bob, time.Minute)
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil {
		t.Fatalf("UserSessions: %v", err)
	}
	var got []string
	for _, r := range list {
		if r.User != "alice" {
			t.Errorf("UserSessions(alice) returned user %q", r.User)
		}
		sameRecord(t, r, record(idFor(r.Key), "alice", c))
		got = append(got, r.Key)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("UserSessions(alice) keys = %q, want %q", got, keys)
	}
	n, err := s.DeleteUserSessions(ctx(t), "alice")
	if err != nil || n != 3 {
		t.Errorf("DeleteUserSessions(alice) = %d, %v; want 3, nil", n, err)
	}
	for _, k := range keys {
		mustNotFound(t, s, k)
	}
	if _, err := s.TouchSession(ctx(t), bob.Key, time.Minute); err != nil {
		t.Errorf("bob's session after alice's forced logout: %v", err)
	}
}

// idFor maps a key made by record back to its ID, for sameRecord.
func idFor(k string) string {
	for _, id := range []string{"a1", "a2", "a3"} {
		if key(id) == k {
			return id
		}
	}
	return ""
}

func testWeirdUsersAndKeys(t *testing.T, s auth.Store, c *Clock) {
	create(t, s, record("plain", "alice", c), time.Minute)
	for i, user := range weird {
		rec := record("weird", user, c)
		rec.Key = weird[len(weird)-1-i] + "/key"
		create(t, s, rec, time.Minute)
		got, err := s.TouchSession(ctx(t), rec.Key, time.Minute)
		if err != nil {
			t.Fatalf("TouchSession(key %.40q): %v", rec.Key, err)
		}
		sameRecord(t, got, rec)
	}
	for _, user := range weird {
		list, _, err := s.UserSessions(ctx(t), user, "", 0)
		if err != nil || len(list) != 1 || list[0].User != user {
			t.Errorf("UserSessions(%.40q) = %d sessions, %v; want its 1, nil", user, len(list), err)
		}
	}
	for _, user := range weird {
		n, err := s.DeleteUserSessions(ctx(t), user)
		if err != nil || n != 1 {
			t.Errorf("DeleteUserSessions(%.40q) = %d, %v; want 1, nil", user, n, err)
		}
	}
	list, _, err := s.UserSessions(ctx(t), "alice", "", 0)
	if err != nil || len(list) != 1 || !strings.EqualFold(list[0].User, "alice") {
		t.Errorf("UserSessions(alice) after deleting the weird users = %d, %v; want 1, nil", len(list), err)
	}
}
