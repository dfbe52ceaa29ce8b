package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/config"
)

// TestSessionsCLIFollowsPages: `gatehouse sessions` prints every page of
// the paged listing, following "next".
func TestSessionsCLIFollowsPages(t *testing.T) {
	t.Parallel()
	var cursors []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cursors = append(cursors, q.Get("cursor"))
		if q.Get("user") != "alice" || q.Get("limit") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		next := map[string]string{"": "p2", "p2": "p3", "p3": ""}[q.Get("cursor")]
		w.Header().Set("Content-Type", "application/json")
		body := fmt.Sprintf(`{"sessions":[{"id":"id-%s","user":"alice","created":1,"last_seen":2,"ip":"192.0.2.1","user_agent":"ua"}]`, q.Get("cursor"))
		if next != "" {
			body += fmt.Sprintf(`,"next":%q`, next)
		}
		fmt.Fprint(w, body+"}")
	}))
	defer srv.Close()
	c := &adminClient{base: srv.URL, token: "t", http: srv.Client()}
	var out bytes.Buffer
	n, err := listSessionPages(context.Background(), c, "/admin/sessions?user=alice", &out)
	if err != nil || n != 3 {
		t.Fatalf("listSessionPages: %d, %v; want 3 sessions", n, err)
	}
	for _, id := range []string{"id- ", "id-p2", "id-p3"} {
		if !strings.Contains(out.String(), strings.TrimSpace(id)) {
			t.Errorf("output lacks %s:\n%s", id, out.String())
		}
	}
	if strings.Join(cursors, ",") != ",p2,p3" {
		t.Errorf("cursors sent %q, want \"\", p2, p3", cursors)
	}
}

// TestSessionMaxPerUserDefault: config's default for session.max_per_user
// is the session package's (one rule, one place).
func TestSessionMaxPerUserDefault(t *testing.T) {
	t.Parallel()
	if got := config.Default().Session.MaxPerUser; got != session.DefaultMaxPerUser {
		t.Errorf("config default session.max_per_user %d, session.DefaultMaxPerUser %d", got, session.DefaultMaxPerUser)
	}
}
