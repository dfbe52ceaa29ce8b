package session

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
)

// TestMaxPerUser (issue 9 item 11): a login beyond Options.MaxPerUser ends
// the user's oldest session; others' sessions are untouched, and the
// default cap is DefaultMaxPerUser.
func TestMaxPerUser(t *testing.T) {
	c := newClock()
	ms := memstore.New(c.Now)
	t.Cleanup(func() { ms.Close() })
	m := mustNew(t, Options{Store: ms, MaxPerUser: 2, Now: c.Now})
	f := &fixture{m: m, store: &countingStore{Store: ms}, clock: c}
	var cookies []string
	for range 3 {
		ck := f.login(t, alice)
		cookies = append(cookies, ck.Name+"="+ck.Value)
		c.Add(time.Second)
	}
	if _, err := f.auth(cookies[0]); err == nil {
		t.Error("the oldest session outlived a login beyond the cap of 2")
	}
	for _, ck := range cookies[1:] {
		if _, err := f.auth(ck); err != nil {
			t.Errorf("a session within the cap: %v", err)
		}
	}
	if got := mustNew(t, Options{Store: ms}).o.MaxPerUser; got != DefaultMaxPerUser || DefaultMaxPerUser != 100 {
		t.Errorf("default MaxPerUser %d (DefaultMaxPerUser %d), want 100 (README: Configuration reference)", got, DefaultMaxPerUser)
	}
}
