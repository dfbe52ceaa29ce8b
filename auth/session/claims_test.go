package session

import (
	"reflect"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// TestClaimsFollowTheDirectory: a session identity's claims are the
// user's as the users files have them now, request after request (they are
// cached per user, and rebuilt when email or groups change), and never
// another user's.
func TestClaimsFollowTheDirectory(t *testing.T) {
	f := newUsersFixture(t)
	ca := f.login(t, alice)
	bob := f.login(t, users.User{Username: "bob", Email: "bob@example.com", Groups: []string{"staff"}})
	want := func(id *auth.Identity, sub, email string, groups ...any) {
		t.Helper()
		w := map[string]any{"sub": sub, "email": email, "groups": groups}
		got := make([]any, len(id.Groups))
		for i, g := range id.Groups {
			got[i] = g
		}
		if !reflect.DeepEqual(id.Claims, w) || id.User != sub || id.Email != email || !reflect.DeepEqual(got, groups) {
			t.Errorf("identity %s %s %v, claims %v; want %v", id.User, id.Email, id.Groups, id.Claims, w)
		}
	}
	for range 2 {
		want(f.mustAuth(t, ca.Name+"="+ca.Value), "alice", "alice@example.com", "staff", "ops")
		want(f.mustAuth(t, bob.Name+"="+bob.Value), "bob", "bob@example.com", "staff")
	}
	f.dir.load(t, userEntry("alice", f.aliceHash, "a@example.org", "[admins]")+f.bobEntry)
	want(f.mustAuth(t, ca.Name+"="+ca.Value), "alice", "a@example.org", "admins")
	want(f.mustAuth(t, bob.Name+"="+bob.Value), "bob", "bob@example.com", "staff")
}
