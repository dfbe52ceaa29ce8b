package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/session"
)

// TestSessionsListPages: the listing is bounded by limit and continues by
// the "next" cursor; bad limits and cursors are 400.
func TestSessionsListPages(t *testing.T) {
	e := newAPIEnv(t, nil)
	now := time.Now()
	want := map[string]bool{}
	for i := range 5 {
		want[session.HandleFor(addSession(t, e.store, "alice", fmt.Sprint("s", i), now))] = true
	}
	got := map[string]bool{}
	path, pages := "/admin/sessions?user=alice&limit=2", 0
	for {
		status, b := e.admin(t, http.MethodGet, path, "")
		var page struct {
			Sessions []Session `json:"sessions"`
			Next     *string   `json:"next"`
		}
		if err := json.Unmarshal([]byte(b), &page); status != 200 || err != nil {
			t.Fatalf("GET %s: got %d %s", path, status, b)
		}
		if len(page.Sessions) > 2 {
			t.Fatalf("GET %s: %d sessions, want at most 2", path, len(page.Sessions))
		}
		for _, s := range page.Sessions {
			got[s.ID] = true
		}
		if pages++; page.Next == nil || pages > 5 {
			break
		}
		path = "/admin/sessions?user=alice&limit=2&cursor=" + url.QueryEscape(*page.Next)
	}
	if pages != 3 || len(got) != len(want) {
		t.Errorf("paged through %d sessions in %d pages, want 5 in 3", len(got), pages)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "limit=1&limit=2", "cursor=zz", "cursor=1&cursor=2"} {
		status, b := e.admin(t, http.MethodGet, "/admin/sessions?user=alice&"+bad, "")
		if status != http.StatusBadRequest || !strings.Contains(b, `"invalid_request"`) || !strings.Contains(b, `"request_id"`) {
			t.Errorf("GET ?%s: got %d %s, want 400 invalid_request", bad, status, b)
		}
	}
	if status, b := e.admin(t, http.MethodGet, "/admin/sessions?user=alice&limit=1000", ""); status != 200 || strings.Contains(b, `"next"`) {
		t.Errorf("limit=1000: got %d %s, want every session and no next", status, b)
	}
}

// TestDeleteUnknownSessionNotLogged (issue 9 item 10): an unknown handle
// may be a pasted cookie value; the audit line says a handle was unknown
// without echoing it. A known one is logged (it is the listing's handle).
func TestDeleteUnknownSessionNotLogged(t *testing.T) {
	e := newAPIEnv(t, nil)
	cookieLike := pastedCookie()
	for _, handle := range []string{cookieLike, "not-a-handle-" + cookieLike[:20]} {
		status, _ := e.admin(t, http.MethodDelete, "/admin/sessions/"+handle, "")
		if status != http.StatusNotFound {
			t.Fatalf("DELETE unknown handle: got %d, want 404", status)
		}
		logs := e.logs.String()
		if strings.Contains(logs, handle) || strings.Contains(logs, cookieLike[:20]) {
			t.Errorf("the audit log echoes the unknown handle:\n%s", logs)
		}
		if !strings.Contains(logs, `"session":"unknown"`) {
			t.Errorf("the audit log does not say the handle was unknown:\n%s", logs)
		}
	}
	known := session.HandleFor(addSession(t, e.store, "alice", "known", time.Now()))
	if status, _ := e.admin(t, http.MethodDelete, "/admin/sessions/"+known, ""); status != 200 {
		t.Fatalf("DELETE known handle: got %d, want 200", status)
	}
	if !strings.Contains(e.logs.String(), `"session":"`+known+`"`) {
		t.Errorf("the audit log lacks the known handle:\n%s", e.logs)
	}
}

// pastedCookie is a well-formed session handle that names no session, as a
// pasted session cookie value would be.
func pastedCookie() string {
	sum := sha256.Sum256([]byte("pasted-cookie"))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
