package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

func refreshRecord(token, fam string, c *Clock, ttl time.Duration) auth.RefreshRecord {
	now := c.Now()
	return auth.RefreshRecord{
		Key: key(token), Family: fam, User: "alice", Email: "alice@example.com",
		Groups: []string{"staff", "ops"}, AuthTime: now, Created: now, Expires: now.Add(ttl),
	}
}

func createRefresh(t *testing.T, s auth.Store, rec auth.RefreshRecord, access auth.TokenRef) {
	t.Helper()
	if err := s.CreateRefresh(ctx(t), rec, access); err != nil {
		t.Fatalf("CreateRefresh(family %q): %v", rec.Family, err)
	}
}

// spend spends the token and checks the error kind (nil for success).
func spend(t *testing.T, s auth.Store, token string, want error) auth.RefreshRecord {
	t.Helper()
	rec, err := s.SpendRefresh(ctx(t), key(token))
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("SpendRefresh(%q): got error %v, want %v", token, err, want)
	}
	return rec
}

func testRefreshLifecycle(t *testing.T, s auth.Store, c *Clock) {
	want := refreshRecord("tok-1", "fam-1", c, time.Hour)
	createRefresh(t, s, want, auth.TokenRef{JTI: "jti-1", Expires: c.Now().Add(time.Hour)})
	got := spend(t, s, "tok-1", nil)
	if got.Key != want.Key || got.Family != want.Family || got.User != want.User || got.Email != want.Email ||
		!slices.Equal(got.Groups, want.Groups) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for name, pair := range map[string][2]time.Time{
		"AuthTime": {got.AuthTime, want.AuthTime}, "Created": {got.Created, want.Created}, "Expires": {got.Expires, want.Expires},
	} {
		if d := pair[0].Sub(pair[1]); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("got %s %v, want %v", name, pair[0], pair[1])
		}
	}
	again := spend(t, s, "tok-1", auth.ErrRevoked)
	if again.Family != "fam-1" || again.User != "" {
		t.Errorf("second spend: got %+v, want only Family %q (no live token left)", again, "fam-1")
	}
	spend(t, s, "tok-unknown", auth.ErrNotFound)
}

func testRefreshFamilyRevoke(t *testing.T, s auth.Store, c *Clock) {
	exp := c.Now().Add(time.Hour).Truncate(time.Millisecond)
	createRefresh(t, s, refreshRecord("t1", "fam", c, time.Hour), auth.TokenRef{JTI: "a1", Expires: exp})
	spend(t, s, "t1", nil)
	createRefresh(t, s, refreshRecord("t2", "fam", c, time.Hour), auth.TokenRef{JTI: "a2", Expires: exp})
	refs, first, err := s.RevokeFamily(ctx(t), "fam")
	if err != nil || !first {
		t.Fatalf("RevokeFamily: got first %v, error %v; want true, nil", first, err)
	}
	var jtis []string
	for _, r := range refs {
		jtis = append(jtis, r.JTI)
		if !r.Expires.Equal(exp) {
			t.Errorf("access %q: got Expires %v, want %v", r.JTI, r.Expires, exp)
		}
	}
	slices.Sort(jtis)
	if !slices.Equal(jtis, []string{"a1", "a2"}) {
		t.Errorf("got access tokens %q, want %q", jtis, []string{"a1", "a2"})
	}
	spend(t, s, "t2", auth.ErrRevoked)
	spend(t, s, "t1", auth.ErrRevoked)
	if err := s.CreateRefresh(ctx(t), refreshRecord("t3", "fam", c, time.Hour), auth.TokenRef{}); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("CreateRefresh in a revoked family: got %v, want auth.ErrRevoked", err)
	}
	spend(t, s, "t3", auth.ErrNotFound)
	if _, first, err := s.RevokeFamily(ctx(t), "fam"); err != nil || first {
		t.Errorf("second RevokeFamily: got first %v, error %v; want false, nil", first, err)
	}
	if refs, first, err := s.RevokeFamily(ctx(t), "no-such-family"); err != nil || first || len(refs) != 0 {
		t.Errorf("RevokeFamily(unknown): got %v, %v, %v; want none, false, nil", refs, first, err)
	}
}

func testRefreshFamiliesIsolated(t *testing.T, s auth.Store, c *Clock) {
	for i, fam := range weird[:8] {
		tok := "tok" + string(rune('a'+i))
		createRefresh(t, s, refreshRecord(tok, "f"+fam, c, time.Hour), auth.TokenRef{JTI: "j" + fam, Expires: c.Now().Add(time.Hour)})
	}
	if _, _, err := s.RevokeFamily(ctx(t), "f*"); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	for i, fam := range weird[:8] {
		tok := "tok" + string(rune('a'+i))
		if fam == "*" {
			spend(t, s, tok, auth.ErrRevoked)
			continue
		}
		if got := spend(t, s, tok, nil); got.Family != "f"+fam {
			t.Errorf("got family %q, want %q", got.Family, "f"+fam)
		}
	}
}

func testRefreshExpiry(t *testing.T, s auth.Store, c *Clock) {
	createRefresh(t, s, refreshRecord("short", "fam-s", c, time.Second), auth.TokenRef{})
	createRefresh(t, s, refreshRecord("long", "fam-l", c, time.Hour), auth.TokenRef{JTI: "brief", Expires: c.Now().Add(time.Second)})
	createRefresh(t, s, refreshRecord("long2", "fam-l", c, time.Hour), auth.TokenRef{JTI: "lasting", Expires: c.Now().Add(time.Hour)})
	c.Pass(1600 * time.Millisecond)
	spend(t, s, "short", auth.ErrNotFound)
	refs, _, err := s.RevokeFamily(ctx(t), "fam-l")
	if err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	if len(refs) != 1 || refs[0].JTI != "lasting" {
		t.Errorf("got access tokens %+v, want only %q (the other expired)", refs, "lasting")
	}
}

func testRefreshConcurrentSpend(t *testing.T, s auth.Store, c *Clock) {
	createRefresh(t, s, refreshRecord("race", "fam-r", c, time.Hour), auth.TokenRef{})
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, reuse int
	)
	for range 20 {
		wg.Go(func() {
			_, err := s.SpendRefresh(ctx(t), key("race"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, auth.ErrRevoked):
				reuse++
			default:
				t.Errorf("SpendRefresh: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || reuse != 19 {
		t.Errorf("got %d successful and %d reused spends, want 1 and 19", ok, reuse)
	}
}

// testRefreshReuseNamesHolder: the reuse of a spent token whose successor
// is live names the successor's user and client address (the
// refresh_reuse audit event's first IP).
func testRefreshReuseNamesHolder(t *testing.T, s auth.Store, c *Clock) {
	first := refreshRecord("tok-a", "fam-r", c, time.Hour)
	first.IP = "192.0.2.1"
	createRefresh(t, s, first, auth.TokenRef{})
	spend(t, s, "tok-a", nil)
	next := refreshRecord("tok-b", "fam-r", c, time.Hour)
	next.IP = "192.0.2.7"
	createRefresh(t, s, next, auth.TokenRef{})
	got := spend(t, s, "tok-a", auth.ErrRevoked)
	if got.Family != "fam-r" || got.User != "alice" || got.IP != "192.0.2.7" {
		t.Errorf("reuse: got family %q user %q ip %q, want fam-r, alice, 192.0.2.7", got.Family, got.User, got.IP)
	}
	if got.Email != "" || got.Key != "" || len(got.Groups) != 0 {
		t.Errorf("reuse returned more than family, user and IP: %+v", got)
	}
}
