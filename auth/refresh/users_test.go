package refresh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// liveUsers serves a users.Directory that a test swaps, as users.Watcher
// does on a reload.
type liveUsers struct {
	d atomic.Pointer[users.Directory]
}

func (l *liveUsers) Lookup(name string) (users.User, string, bool) { return l.d.Load().Lookup(name) }

func (l *liveUsers) load(t *testing.T, entries ...string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(entries, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := users.Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	l.d.Store(d)
}

func userEntry(t *testing.T, name, password, email, groups string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return "- username: " + name + "\n  password_hash: \"" + string(h) + "\"\n  email: " + email + "\n  groups: " + groups + "\n"
}

// usersFixture is a fixture whose Service follows a users directory
// holding alice (staff) and bob.
type usersFixture struct {
	*fixture
	dir        *liveUsers
	alice, bob string // users file entries
}

func newUsersFixture(t *testing.T) *usersFixture {
	t.Helper()
	f := &usersFixture{dir: &liveUsers{}}
	f.alice = userEntry(t, "alice", "alice-pw", "alice@example.com", "[staff]")
	f.bob = userEntry(t, "bob", "bob-pw", "bob@example.com", "[staff]")
	f.dir.load(t, f.alice, f.bob)
	f.fixture = newFixtureWith(t, nil, func(o *Options) { o.Users = f.dir })
	return f
}

// wantFamilyEnded refreshes g and wants invalid_grant (auth.ErrInvalid),
// the family revoked and its access token refused.
func (f *usersFixture) wantFamilyEnded(t *testing.T, g Grant) {
	t.Helper()
	_, err := f.svc.Refresh(context.Background(), g.RefreshToken)
	if !errors.Is(err, auth.ErrInvalid) || errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("Refresh after the change: %v, want auth.ErrInvalid (invalid_grant)", err)
	}
	if got := f.families.Load(); got != 1 {
		t.Errorf("got %d family revocations, want 1", got)
	}
	f.accessOK(t, g.AccessToken, false)
}

// TestRefreshOfRemovedUser: on today's code a removed user's family went on
// minting tokens.
func TestRefreshOfRemovedUser(t *testing.T) {
	f := newUsersFixture(t)
	g1 := f.issue(t)
	g2, err := f.svc.Refresh(context.Background(), g1.RefreshToken)
	if err != nil {
		t.Fatalf("refresh before the change: %v", err)
	}
	f.dir.load(t, f.bob)
	f.wantFamilyEnded(t, g2)
	f.dir.load(t, f.alice, f.bob) // back again: the family stays ended
	if _, err := f.svc.Refresh(context.Background(), g2.RefreshToken); err == nil {
		t.Error("the spent token of an ended family works again")
	}
}

func TestRefreshAfterPasswordChange(t *testing.T) {
	f := newUsersFixture(t)
	g := f.issue(t)
	f.dir.load(t, userEntry(t, "alice", "new-pw", "alice@example.com", "[staff]"), f.bob)
	f.wantFamilyEnded(t, g)
}

// TestRefreshTakesGroupsFromUsersFile: on today's code a refreshed token
// carried the groups of the password grant.
func TestRefreshTakesGroupsFromUsersFile(t *testing.T) {
	f := newUsersFixture(t)
	g, err := f.svc.Issue(context.Background(), User{Name: "alice", Email: "alice@example.com", Groups: []string{"staff", "admins"}})
	if err != nil {
		t.Fatal(err)
	}
	// The users file says [staff] and a new email (the grant's admins came
	// from a directory that has changed since).
	f.dir.load(t, strings.Replace(f.alice, "alice@example.com", "alice@corp.example", 1), f.bob)
	g2, err := f.svc.Refresh(context.Background(), g.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	id, err := f.verifier.Verify(context.Background(), g2.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(id.Groups, []string{"staff"}) || id.Email != "alice@corp.example" {
		t.Errorf("refreshed token: groups %v, email %q; want [staff] and the users file's email", id.Groups, id.Email)
	}
}

// TestRefreshMaxLifetime: a family cannot refresh past MaxLifetime after
// its password grant, and no refresh token outlives it. On today's code
// each rotation got a fresh RefreshTTL, so a family lived forever.
func TestRefreshMaxLifetime(t *testing.T) {
	var now atomic.Int64
	now.Store(1_700_000_000)
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	f := newFixtureWith(t, clock, func(o *Options) { o.RefreshTTL, o.MaxLifetime = 2*time.Hour, 3*time.Hour })
	start := now.Load()
	g := f.issue(t)
	var err error
	// Refresh every 50 minutes: each token is well within RefreshTTL.
	for step := 1; ; step++ {
		now.Add(50 * 60)
		g, err = f.svc.Refresh(context.Background(), g.RefreshToken)
		elapsed := time.Duration(now.Load()-start) * time.Second
		if err != nil {
			if elapsed < 3*time.Hour {
				t.Fatalf("refresh %d at +%v: %v, want success before MaxLifetime", step, elapsed, err)
			}
			if !errors.Is(err, auth.ErrInvalid) {
				t.Fatalf("refresh at +%v: %v, want auth.ErrInvalid", elapsed, err)
			}
			break
		}
		if elapsed >= 3*time.Hour {
			t.Fatalf("refresh %d at +%v succeeded, past MaxLifetime 3h", step, elapsed)
		}
	}

	// Lowering MaxLifetime (a config reload) applies to families already
	// running, whatever their tokens' expiry.
	long := newFixtureWith(t, clock, func(o *Options) { o.RefreshTTL, o.MaxLifetime = 10*time.Hour, 100*time.Hour })
	g = long.issue(t)
	short, err := New(Options{Store: long.store, Signer: newSigner(t), Issuer: "https://gh.example",
		Audience: "gatehouse", RefreshTTL: time.Hour, MaxLifetime: 2 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	now.Add(2*60*60 + 1)
	_, err = short.Refresh(context.Background(), g.RefreshToken)
	if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(auth.Describe(err), "maximum lifetime") {
		t.Errorf("refresh of a family past the lowered MaxLifetime: %v, want auth.ErrInvalid (maximum lifetime)", err)
	}
}
