package oidc

import (
	"errors"
	"net/http"
	"slices"
	"testing"
)

func TestMapClaims(t *testing.T) {
	claims := map[string]any{
		"sub": "u1", "sid": "s1", "preferred_username": "dave", "email": "d@example.com",
		"realm_access": map[string]any{"roles": []any{"staff", 7, "ops"}}, "hd": "example.com",
	}
	p := New(Config{Name: "kc", Claims: Claims{Groups: "realm_access.roles"}}, Options{})
	ext, err := p.mapClaims("u1", claims)
	if err != nil || ext.User != "dave" || ext.Email != "d@example.com" || !slices.Equal(ext.Groups, []string{"staff", "ops"}) ||
		ext.SID != "s1" || ext.Subject != "u1" || ext.Provider != "kc" {
		t.Fatalf("dotted groups path: %+v, %v", ext, err)
	}
	g := New(Config{Name: "google", Claims: Claims{User: "email", Groups: "hd"}, AllowedGroups: []string{"example.com"}}, Options{})
	if ext, err := g.mapClaims("u1", claims); err != nil || ext.User != "d@example.com" || !slices.Equal(ext.Groups, []string{"example.com"}) {
		t.Fatalf("string groups claim: %+v, %v", ext, err)
	}
	denied := New(Config{Name: "x", AllowedGroups: []string{"admins"}, Claims: Claims{Groups: "realm_access.roles"}}, Options{})
	var e *Error
	if _, err := denied.mapClaims("u1", claims); !errors.As(err, &e) || e.Status() != http.StatusForbidden || e.Result() != "denied" {
		t.Errorf("not in allowed_groups: %v", err)
	}
	noUser := New(Config{Name: "x", Claims: Claims{User: "upn"}}, Options{})
	if _, err := noUser.mapClaims("u1", claims); !errors.As(err, &e) || e.Status() != http.StatusBadRequest || e.Result() != "failure" {
		t.Errorf("no user claim: %v", err)
	}
}

func TestErrorStatuses(t *testing.T) {
	for kind, want := range map[Kind][2]any{
		KindInvalid: {400, "failure"}, KindDenied: {403, "denied"}, KindUpstream: {502, "error"},
		KindNotReady: {503, "error"}, KindUnavailable: {503, "error"},
	} {
		e := &Error{Kind: kind}
		if e.Status() != want[0] || e.Result() != want[1] {
			t.Errorf("kind %d: %d %s, want %v", kind, e.Status(), e.Result(), want)
		}
	}
}

func TestUnverifiedIssuer(t *testing.T) {
	// {"alg":"none"}.{"iss":"https://idp.example.com"}.
	if got := UnverifiedIssuer("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSJ9."); got != "https://idp.example.com" {
		t.Errorf("iss = %q", got)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.e30.c"} {
		if got := UnverifiedIssuer(bad); got != "" {
			t.Errorf("%q → %q, want empty", bad, got)
		}
	}
}

func TestEndSessionURLOff(t *testing.T) {
	p := New(Config{Name: "x", ClientID: "c", EndSession: false}, Options{})
	p.meta.EndSession = "https://idp.example.com/logout"
	if u := p.EndSessionURL("tok", "https://app/.gatehouse/login"); u != "" {
		t.Errorf("end_session false: %q", u)
	}
	p.cfg.EndSession = true
	if u := p.EndSessionURL("tok", "https://app/.gatehouse/login"); u != "https://idp.example.com/logout?client_id=c&id_token_hint=tok&post_logout_redirect_uri=https%3A%2F%2Fapp%2F.gatehouse%2Flogin" {
		t.Errorf("end-session URL = %q", u)
	}
}
