package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/config"
	"github.com/gatehouse-proxy/gatehouse/metrics"
)

// TestConfigReloadEndsUsersOfTheOldFiles: a config reload that points
// users.file elsewhere (or drops it) is a change of the users files like
// any other: the users it removes are revoked in the store and their
// sessions deleted (build calls endUsers once nothing can fail any more).
func TestConfigReloadEndsUsersOfTheOldFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	alice, bob := newTruthUser(t, "alice", "[staff]"), newTruthUser(t, "bob", "[staff]")
	for name, us := range map[string][]truthUser{"old.yaml": {alice, bob}, "new.yaml": {alice}} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(truthUsersYAML(us...)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := memstore.New(nil)
	t.Cleanup(func() { st.Close() })
	s := &server{store: st, m: metrics.New(prometheus.NewRegistry(), "test"), log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := func(file string) *config.Config {
		c := config.Default()
		c.Users.File = file
		return &c
	}
	first, ended, err := s.localUsers(ctx, cfg(filepath.Join(dir, "old.yaml")))
	if err != nil || len(ended) != 0 {
		t.Fatalf("first load: %v, ended %v; want none", err, ended)
	}
	s.current.Store(&generation{users: first})
	for _, u := range []string{"alice", "bob"} {
		now := time.Now()
		rec := auth.SessionRecord{Key: u + "-session", User: u, Created: now.Add(-time.Minute), LastSeen: now}
		if err := st.CreateSession(ctx, rec, time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}

	_, ended, err = s.localUsers(ctx, cfg(filepath.Join(dir, "new.yaml")))
	if err != nil || len(ended) != 1 || ended[0] != "bob" {
		t.Fatalf("second load: %v, ended %v; want [bob]", err, ended)
	}
	s.endUsers(ended)
	deadline := time.Now().Add(5 * time.Second)
	for {
		at, _ := st.SubjectRevokedAt(ctx, "bob")
		left, _, _ := st.UserSessions(ctx, "bob", "", 0)
		if !at.IsZero() && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob, gone from the new users file: revoked at %v, %d sessions left; want revoked and none", at, len(left))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if at, _ := st.SubjectRevokedAt(ctx, "alice"); !at.IsZero() {
		t.Error("alice, in both files, was revoked")
	}
	if left, _, _ := st.UserSessions(ctx, "alice", "", 0); len(left) != 1 {
		t.Errorf("alice has %d sessions, want her 1", len(left))
	}
}
