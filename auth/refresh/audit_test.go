package refresh

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

type events struct {
	mu  sync.Mutex
	got []auth.AuditEvent
}

func (e *events) Audit(_ context.Context, ev auth.AuditEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// A reused refresh token is one refresh_reuse event naming the family,
// the user, the client the family was last issued to, the reusing client
// and the revocation; never a token.
func TestReuseAuditEvent(t *testing.T) {
	ev := &events{}
	f := newFixtureWith(t, nil, func(o *Options) { o.Audit = ev })
	victim := auth.WithAuditClient(context.Background(), auth.AuditClient{IP: "192.0.2.10", RequestID: "r1"})
	thief := auth.WithAuditClient(context.Background(), auth.AuditClient{IP: "198.51.100.66", RequestID: "r2"})
	g1, err := f.svc.Issue(victim, User{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := f.svc.Refresh(thief, g1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.got) != 0 {
		t.Fatalf("events before any reuse: %+v", ev.got)
	}
	if _, err := f.svc.Refresh(victim, g1.RefreshToken); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("reuse: %v", err)
	}
	if len(ev.got) != 1 {
		t.Fatalf("got %d events, want 1: %+v", len(ev.got), ev.got)
	}
	e := ev.got[0]
	if e.Kind != auth.AuditRefreshReuse || e.User != "bob" || e.IP != "192.0.2.10" || e.RequestID != "r1" {
		t.Errorf("event %+v", e)
	}
	for _, want := range []string{"family ", "last issued to 198.51.100.66", "reused from 192.0.2.10", "family revoked"} {
		if !strings.Contains(e.Detail, want) {
			t.Errorf("detail %q lacks %q", e.Detail, want)
		}
	}
	for _, tok := range []string{g1.RefreshToken, g2.RefreshToken, g1.AccessToken, g2.AccessToken} {
		if strings.Contains(e.Detail, tok) {
			t.Error("the event holds a token")
		}
	}
}
