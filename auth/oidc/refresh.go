package oidc

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// Bounds of one revalidation: the cross-replica lock's lifetime, how long
// a request waits for another replica's refresh, and how long after an IdP
// error a session is not refreshed again (it keeps working meanwhile).
const (
	refreshLockTTL  = 15 * time.Second
	refreshWait     = 10 * time.Second
	refreshBackoff  = 10 * time.Second
	refreshPollStep = 50 * time.Millisecond
)

// RevalidatorOptions configures a Revalidator.
type RevalidatorOptions struct {
	// Store must implement auth.SessionUpdater; otherwise nothing is
	// revalidated.
	Store auth.SessionStore
	// Idle is session.idle_timeout (re-reading a session slides it).
	Idle time.Duration
	// OnResult counts gatehouse_oidc_refreshes_total (ok, ended, error).
	OnResult func(provider, result string)
	Logger   *slog.Logger
	Now      func() time.Time
}

// Revalidator refreshes OIDC sessions at their IdP when revalidate has
// passed since their last check (session.Revalidator): one refresh per
// session at a time, whatever the number of concurrent requests (they wait
// and share its outcome) and replicas (a store lock; the others wait for
// the record to change). invalid_grant ends the session; an unreachable
// IdP keeps it (counted as error, retried after 10 s).
type Revalidator struct {
	o      RevalidatorOptions
	upd    auth.SessionUpdater
	byName map[string]*Provider

	mu      sync.Mutex
	flights map[string]*flight
	retryAt map[string]time.Time
}

type flight struct {
	done chan struct{}
	rec  auth.SessionRecord
	err  error
}

// NewRevalidator returns the revalidator of providers.
func NewRevalidator(ps []*Provider, o RevalidatorOptions) *Revalidator {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnResult == nil {
		o.OnResult = func(string, string) {}
	}
	v := &Revalidator{o: o, byName: map[string]*Provider{}, flights: map[string]*flight{}, retryAt: map[string]time.Time{}}
	v.upd, _ = o.Store.(auth.SessionUpdater)
	for _, p := range ps {
		v.byName[p.Name()] = p
	}
	return v
}

var errEnded = &auth.Error{Kind: auth.ErrInvalid, Description: "the identity provider ended the session"}

// Revalidate implements session.Revalidator.
func (v *Revalidator) Revalidate(ctx context.Context, rec *auth.SessionRecord) error {
	p := v.byName[rec.Provider]
	if p == nil || p.cfg.Revalidate <= 0 || rec.RefreshToken == "" || v.upd == nil {
		return nil
	}
	now := v.o.Now()
	checked := rec.Checked
	if checked.IsZero() {
		checked = rec.Created
	}
	if now.Sub(checked) < p.cfg.Revalidate {
		return nil
	}
	v.mu.Lock()
	if t, ok := v.retryAt[rec.Key]; ok {
		if now.Before(t) {
			v.mu.Unlock()
			return nil
		}
		delete(v.retryAt, rec.Key)
	}
	f, joined := v.flights[rec.Key]
	if !joined {
		f = &flight{done: make(chan struct{})}
		v.flights[rec.Key] = f
	}
	v.mu.Unlock()
	if !joined {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshLockTTL)
		f.rec, f.err = v.refresh(rctx, p, *rec)
		cancel()
		v.mu.Lock()
		delete(v.flights, rec.Key)
		v.mu.Unlock()
		close(f.done)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	rec.Email, rec.Groups, rec.Checked = f.rec.Email, f.rec.Groups, f.rec.Checked
	return nil
}

// refresh runs one revalidation of the session, holding the store lock.
func (v *Revalidator) refresh(ctx context.Context, p *Provider, rec auth.SessionRecord) (auth.SessionRecord, error) {
	lock := "oidc-refresh:" + rec.Key
	got, err := v.upd.TryLock(ctx, lock, refreshLockTTL)
	if err != nil {
		v.failed(p, rec, "store unavailable", err)
		return rec, nil
	}
	if !got {
		return v.awaitOther(ctx, p, rec)
	}
	defer func() { _ = v.upd.Unlock(context.WithoutCancel(ctx), lock) }()
	cur, err := v.o.Store.TouchSession(ctx, rec.Key, v.o.Idle)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return rec, errEnded
	case err != nil:
		v.failed(p, rec, "store unavailable", err)
		return rec, nil
	case cur.Checked.After(rec.Checked): // another replica just did it
		return cur, nil
	}
	prov, verifier, meta, err := p.state()
	if err != nil {
		v.failed(p, rec, "provider not discovered", err)
		return rec, nil
	}
	hctx := gooidc.ClientContext(ctx, p.o.HTTPClient)
	tok, err := p.oauth2Config(prov, meta, "").TokenSource(hctx, &oauth2.Token{RefreshToken: cur.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return cur, v.end(ctx, p, cur, "invalid_grant")
	}
	if err != nil {
		v.failed(p, rec, "refresh failed", err)
		return rec, nil
	}
	if tok.RefreshToken != "" {
		cur.RefreshToken = tok.RefreshToken
	}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, claims, err := p.verifyID(hctx, verifier, raw, noNonce)
		if err != nil || idt.Subject != cur.Subject {
			v.failed(p, rec, "refreshed ID token refused", err)
			return rec, nil
		}
		ext, err := p.mapClaims(idt.Subject, claims)
		if err != nil { // no longer in allowed_groups
			return cur, v.end(ctx, p, cur, "denied")
		}
		cur.IDToken, cur.Email, cur.Groups = raw, ext.Email, ext.Groups
	}
	cur.Checked = v.o.Now()
	if err := v.upd.UpdateSession(ctx, cur); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return cur, errEnded
		}
		v.failed(p, rec, "store unavailable", err)
		return rec, nil
	}
	v.o.OnResult(p.Name(), "ok")
	return cur, nil
}

// awaitOther waits for the replica holding the lock: the session's record
// changes (refreshed) or disappears (ended). Past refreshWait the session
// is kept as it is.
func (v *Revalidator) awaitOther(ctx context.Context, p *Provider, rec auth.SessionRecord) (auth.SessionRecord, error) {
	deadline := time.Now().Add(refreshWait)
	for time.Now().Before(deadline) {
		t := time.NewTimer(refreshPollStep)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, nil
		case <-t.C:
		}
		cur, err := v.o.Store.TouchSession(ctx, rec.Key, v.o.Idle)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			return rec, errEnded
		case err != nil:
			return rec, nil
		case cur.Checked.After(rec.Checked):
			return cur, nil
		}
	}
	return rec, nil
}

// end deletes a session its IdP no longer accepts.
func (v *Revalidator) end(ctx context.Context, p *Provider, rec auth.SessionRecord, why string) error {
	if _, err := v.o.Store.DeleteSession(ctx, rec.Key); err != nil {
		v.o.Logger.Warn("delete a session ended at its IdP", "provider", p.Name(), "error", err)
	}
	v.o.OnResult(p.Name(), "ended")
	v.o.Logger.Info("oidc session ended at revalidation", "event", "logout", "provider", p.Name(), "user", rec.User, "reason", why)
	return errEnded
}

// failed counts an error; the session is kept and not retried for
// refreshBackoff.
func (v *Revalidator) failed(p *Provider, rec auth.SessionRecord, what string, err error) {
	v.o.OnResult(p.Name(), "error")
	v.o.Logger.Warn("oidc revalidation failed; the session is kept", "provider", p.Name(), "user", rec.User, "problem", what, "error", err)
	now := v.o.Now()
	v.mu.Lock()
	if len(v.retryAt) > 10000 { // sessions that never came back
		for k, t := range v.retryAt {
			if now.After(t) {
				delete(v.retryAt, k)
			}
		}
	}
	v.retryAt[rec.Key] = now.Add(refreshBackoff)
	v.mu.Unlock()
}
