package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// liveUsers serves a users.Directory that a test swaps, as users.Watcher
// does on a reload.
type liveUsers struct {
	d atomic.Pointer[users.Directory]
}

func (l *liveUsers) Lookup(name string) (users.User, string, bool) { return l.d.Load().Lookup(name) }

// load writes a users file and swaps in the Directory it holds.
func (l *liveUsers) load(t *testing.T, yaml string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := users.Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	l.d.Store(d)
}

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func userEntry(name, hash, email, groups string) string {
	return "- username: " + name + "\n  password_hash: \"" + hash + "\"\n  email: " + email + "\n  groups: " + groups + "\n"
}

// usersFixture is a Manager whose sessions follow a users directory
// holding alice (staff, ops) and bob.
type usersFixture struct {
	*fixture
	dir       *liveUsers
	aliceHash string
	bobEntry  string
}

func newUsersFixture(t *testing.T) *usersFixture {
	t.Helper()
	c := newClock()
	ms := memstore.New(c.Now)
	t.Cleanup(func() { ms.Close() })
	st := &countingStore{Store: ms}
	f := &usersFixture{dir: &liveUsers{}, aliceHash: bcryptHash(t, "alice-pw")}
	f.bobEntry = userEntry("bob", bcryptHash(t, "bob-pw"), "bob@example.com", "[staff]")
	f.dir.load(t, userEntry("alice", f.aliceHash, "alice@example.com", "[staff, ops]")+f.bobEntry)
	m := mustNew(t, Options{Store: st, Revocations: ms, Users: f.dir, Idle: 30 * time.Minute, Now: c.Now})
	f.fixture = &fixture{m: m, store: st, clock: c}
	return f
}

func (f *usersFixture) mustAuth(t *testing.T, cookie string) *auth.Identity {
	t.Helper()
	id, err := f.auth(cookie)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return id
}

// wantEnded checks that the session is refused as revoked, and stays
// refused.
func (f *usersFixture) wantEnded(t *testing.T, cookie string) {
	t.Helper()
	for range 2 {
		if _, err := f.auth(cookie); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("Authenticate after the change: %v, want ErrRevoked", err)
		}
	}
}

// TestSessionOfRemovedUserEnds: on today's code a session kept working
// after its user was deleted from the users file.
func TestSessionOfRemovedUserEnds(t *testing.T) {
	f := newUsersFixture(t)
	c := f.login(t, alice)
	cookie := c.Name + "=" + c.Value
	f.mustAuth(t, cookie)
	recs, _, _ := f.store.UserSessions(context.Background(), "alice", "", 0)
	if len(recs) != 1 || recs[0].Credential == "" || strings.Contains(f.aliceHash, recs[0].Credential) {
		t.Fatalf("stored session = %+v: want a credential fingerprint that is not (part of) the hash", recs)
	}
	f.dir.load(t, f.bobEntry)
	f.wantEnded(t, cookie)
	// The record stays: a replica with older users files than the
	// session's must not delete it (the reload that removes a user deletes
	// their sessions, see cmd/gatehouse).
	if recs, _, _ := f.store.UserSessions(context.Background(), "alice", "", 0); len(recs) != 1 {
		t.Errorf("the refused session's record: %d in the store, want it kept", len(recs))
	}
}

func TestSessionEndsWhenPasswordChanges(t *testing.T) {
	f := newUsersFixture(t)
	c := f.login(t, alice)
	cookie := c.Name + "=" + c.Value
	f.mustAuth(t, cookie)
	f.dir.load(t, userEntry("alice", bcryptHash(t, "new-pw"), "alice@example.com", "[staff, ops]")+f.bobEntry)
	f.wantEnded(t, cookie)
}

// TestDemotedUserLosesGroupAtOnce: on today's code the groups recorded at
// login were served until the session ended.
func TestDemotedUserLosesGroupAtOnce(t *testing.T) {
	f := newUsersFixture(t)
	c := f.login(t, alice)
	cookie := c.Name + "=" + c.Value
	if id := f.mustAuth(t, cookie); strings.Join(id.Groups, ",") != "staff,ops" {
		t.Fatalf("groups before = %v", id.Groups)
	}
	f.dir.load(t, userEntry("alice", f.aliceHash, "alice@corp.example", "[staff]")+f.bobEntry)
	id := f.mustAuth(t, cookie)
	if strings.Join(id.Groups, ",") != "staff" || id.HasGroup("ops") {
		t.Errorf("groups after demotion = %v, want [staff]", id.Groups)
	}
	if id.Email != "alice@corp.example" {
		t.Errorf("email = %q, want the users file's new one", id.Email)
	}
	if v, _ := id.Claim("groups"); len(v.([]any)) != 1 {
		t.Errorf("groups claim = %v, want [staff]", v)
	}
	if v, _ := id.Claim("email"); v != "alice@corp.example" {
		t.Errorf("email claim = %v", v)
	}
}

// TestSessionWithoutCredentialIsNotChecked: a session made by another
// sign-in method (no Credential) is not looked up in the users files.
func TestSessionWithoutCredentialIsNotChecked(t *testing.T) {
	f := newUsersFixture(t)
	id, key := newID()
	now := f.clock.Now()
	rec := auth.SessionRecord{Key: key, User: "carol", Groups: []string{"sso"}, Created: now, LastSeen: now}
	if err := f.store.CreateSession(context.Background(), rec, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	got := f.mustAuth(t, DefaultCookieName+"="+id)
	if got.User != "carol" || strings.Join(got.Groups, ",") != "sso" {
		t.Errorf("identity = %+v, want carol with her recorded groups", got)
	}
}

// TestLoginOfUserRemovedMeanwhile: a user removed between the password
// check and the session's creation gets a session that never works.
func TestLoginOfUserRemovedMeanwhile(t *testing.T) {
	f := newUsersFixture(t)
	f.dir.load(t, f.bobEntry)
	c := f.login(t, alice)
	if _, err := f.auth(c.Name + "=" + c.Value); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("Authenticate: %v, want ErrRevoked", err)
	}
}

// TestUsersCheckAddsNoAllocation: the lookup on every request is a map
// read; it must not add allocations to Authenticate.
func TestUsersCheckAddsNoAllocation(t *testing.T) {
	f := newUsersFixture(t)
	c := f.login(t, alice)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", c.Name+"="+c.Value)
	without := mustNew(t, Options{Store: f.store, Idle: 30 * time.Minute, Now: f.clock.Now})
	with := mustNew(t, Options{Store: f.store, Users: f.dir, Idle: 30 * time.Minute, Now: f.clock.Now})
	measure := func(m *Manager) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := m.Authenticate(r); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := measure(without), measure(with); b > a {
		t.Errorf("Authenticate allocates %v times with the users check, %v without", b, a)
	}
}
