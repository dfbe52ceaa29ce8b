package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// AuditStore is a store that keeps the audit trail with a settable
// maximum (both stores of this module).
type AuditStore interface {
	auth.AuditLog
	SetAuditMax(n int)
}

var auditCases = []struct {
	name string
	fn   func(t *testing.T, s AuditStore, c *Clock)
}{
	{"NewestFirst", testAuditNewestFirst},
	{"Filters", testAuditFilters},
	{"Cap", testAuditCap},
	{"Limit", testAuditLimit},
	{"WeirdValues", testAuditWeird},
	{"Concurrent", testAuditConcurrent},
}

func appendAudit(t *testing.T, s AuditStore, e auth.AuditEvent) {
	t.Helper()
	if err := s.AppendAudit(ctx(t), e); err != nil {
		t.Fatalf("AppendAudit(%+v): %v", e, err)
	}
}

func listAudit(t *testing.T, s AuditStore, f auth.AuditFilter) []auth.AuditEvent {
	t.Helper()
	got, err := s.ListAudit(ctx(t), f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return got
}

func testAuditNewestFirst(t *testing.T, s AuditStore, c *Clock) {
	if got := listAudit(t, s, auth.AuditFilter{}); len(got) != 0 {
		t.Fatalf("empty trail lists %d events", len(got))
	}
	t0 := c.Now().Truncate(time.Millisecond)
	for i := range 3 {
		appendAudit(t, s, auth.AuditEvent{
			Time: t0.Add(time.Duration(i) * time.Second), Kind: auth.AuditLogin, User: fmt.Sprint("u", i),
			Actor: "admin", IP: "192.0.2.1", Detail: "d", RequestID: "r",
		})
	}
	got := listAudit(t, s, auth.AuditFilter{})
	if len(got) != 3 {
		t.Fatalf("listed %d events, want 3", len(got))
	}
	for i, e := range got {
		want := auth.AuditEvent{
			Time: t0.Add(time.Duration(2-i) * time.Second), Kind: auth.AuditLogin, User: fmt.Sprint("u", 2-i),
			Actor: "admin", IP: "192.0.2.1", Detail: "d", RequestID: "r",
		}
		if !e.Time.Equal(want.Time) {
			t.Errorf("event %d time %v, want %v", i, e.Time, want.Time)
		}
		e.Time = want.Time
		if e != want {
			t.Errorf("event %d = %+v, want %+v", i, e, want)
		}
	}
	// A zero time is the store's now.
	appendAudit(t, s, auth.AuditEvent{Kind: auth.AuditLogout, User: "z"})
	got = listAudit(t, s, auth.AuditFilter{Kind: auth.AuditLogout})
	if len(got) != 1 || got[0].Time.IsZero() || got[0].Time.Sub(c.Now()).Abs() > time.Minute {
		t.Errorf("zero time stored as %+v, want about %v", got, c.Now())
	}
}

func testAuditFilters(t *testing.T, s AuditStore, c *Clock) {
	t0 := c.Now().Add(-time.Hour).Truncate(time.Millisecond) // stores keep milliseconds
	kinds := []string{auth.AuditLogin, auth.AuditLoginFailure, auth.AuditAdminAction}
	for i := range 30 {
		appendAudit(t, s, auth.AuditEvent{
			Time: t0.Add(time.Duration(i) * time.Minute), Kind: kinds[i%3], User: fmt.Sprint("user", i%5),
		})
	}
	got := listAudit(t, s, auth.AuditFilter{User: "user1"})
	if len(got) != 6 {
		t.Errorf("user1: %d events, want 6", len(got))
	}
	for _, e := range got {
		if e.User != "user1" {
			t.Errorf("user filter returned %+v", e)
		}
	}
	got = listAudit(t, s, auth.AuditFilter{Kind: auth.AuditLoginFailure})
	if len(got) != 10 {
		t.Errorf("login_failure: %d events, want 10", len(got))
	}
	got = listAudit(t, s, auth.AuditFilter{User: "user1", Kind: auth.AuditLogin})
	// i ≡ 1 mod 5 and i ≡ 0 mod 3: i = 6, 21
	if len(got) != 2 || !got[0].Time.After(got[1].Time) {
		t.Errorf("user1+login: %+v, want 2 events newest first", got)
	}
	got = listAudit(t, s, auth.AuditFilter{Since: t0.Add(25 * time.Minute)})
	if len(got) != 5 {
		t.Errorf("since +25m: %d events, want 5", len(got))
	}
	if got := listAudit(t, s, auth.AuditFilter{User: "user"}); len(got) != 0 {
		t.Errorf("user is not a prefix match: %d events", len(got))
	}
	if got := listAudit(t, s, auth.AuditFilter{User: "user*"}); len(got) != 0 {
		t.Errorf("user is not a pattern: %d events", len(got))
	}
}

func testAuditCap(t *testing.T, s AuditStore, c *Clock) {
	s.SetAuditMax(10)
	for i := range 25 {
		appendAudit(t, s, auth.AuditEvent{Kind: auth.AuditLogin, User: fmt.Sprint(i)})
	}
	got := listAudit(t, s, auth.AuditFilter{Limit: 100})
	if len(got) != 10 {
		t.Fatalf("kept %d events, want the newest 10", len(got))
	}
	for i, e := range got {
		if want := fmt.Sprint(24 - i); e.User != want {
			t.Errorf("event %d is %q, want %q", i, e.User, want)
		}
	}
	if got := listAudit(t, s, auth.AuditFilter{User: "3"}); len(got) != 0 {
		t.Errorf("an event beyond the cap is still listed: %+v", got)
	}
}

func testAuditLimit(t *testing.T, s AuditStore, c *Clock) {
	for i := range 1100 {
		appendAudit(t, s, auth.AuditEvent{Kind: auth.AuditLogin, User: fmt.Sprint(i)})
	}
	for _, tc := range []struct{ limit, want int }{{0, auth.DefaultAuditPage}, {5, 5}, {5000, auth.MaxAuditPage}} {
		got := listAudit(t, s, auth.AuditFilter{Limit: tc.limit})
		if len(got) != tc.want {
			t.Errorf("limit %d: %d events, want %d", tc.limit, len(got), tc.want)
		}
		if len(got) > 0 && got[0].User != "1099" {
			t.Errorf("limit %d: first is %q, want the newest", tc.limit, got[0].User)
		}
	}
	// A filter matching an old event scans past more than one batch.
	got := listAudit(t, s, auth.AuditFilter{User: "2"})
	if len(got) != 1 {
		t.Errorf("user 2 (old): %d events, want 1", len(got))
	}
}

func testAuditWeird(t *testing.T, s AuditStore, c *Clock) {
	for _, w := range weird {
		appendAudit(t, s, auth.AuditEvent{Kind: auth.AuditAdminAction, User: w, Detail: w, Actor: w})
	}
	for _, w := range weird {
		if w == "" {
			continue // "" filters nothing
		}
		got := listAudit(t, s, auth.AuditFilter{User: w})
		if len(got) != 1 || got[0].Detail != w || got[0].Actor != w {
			t.Errorf("user %.40q: %d events", w, len(got))
		}
	}
	html := "<script>x</script>"
	appendAudit(t, s, auth.AuditEvent{Kind: auth.AuditLogin, User: html, IP: strings.Repeat("9", 300)})
	if got := listAudit(t, s, auth.AuditFilter{User: html}); len(got) != 1 {
		t.Errorf("html user: %d events", len(got))
	}
}

func testAuditConcurrent(t *testing.T, s AuditStore, c *Clock) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if err := s.AppendAudit(ctx(t), auth.AuditEvent{Kind: auth.AuditLogin, User: fmt.Sprint(g, "-", i)}); err != nil {
					t.Errorf("AppendAudit: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if got := listAudit(t, s, auth.AuditFilter{Limit: 1000}); len(got) != 160 {
		t.Errorf("kept %d of 160 concurrent events", len(got))
	}
}
