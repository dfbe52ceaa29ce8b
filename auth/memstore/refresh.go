package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// refreshState holds refresh-token families. Its zero value is ready; it is
// guarded by Store.mu and swept lazily by CreateRefresh.
type refreshState struct {
	tokens    map[string]refreshPointer // token key → its family, spent or not
	families  map[string]*family
	lastSweep time.Time
}

// refreshPointer outlives the spend of its token, so that a second use is
// recognised as reuse until the token would have expired.
type refreshPointer struct {
	family  string
	expires time.Time
}

type family struct {
	revoked bool
	live    map[string]auth.RefreshRecord // unspent tokens
	access  map[string]time.Time          // access jti → exp
	expires time.Time                     // the latest expiry of any token
}

// CreateRefresh stores rec as a live token of its family; auth.ErrRevoked
// when the family was revoked.
func (s *Store) CreateRefresh(ctx context.Context, rec auth.RefreshRecord, access auth.TokenRef) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := &s.refresh
	if rs.families == nil {
		rs.tokens = make(map[string]refreshPointer)
		rs.families = make(map[string]*family)
	}
	if now.Sub(rs.lastSweep) >= SweepInterval {
		rs.sweep(now)
	}
	f := rs.families[rec.Family]
	if f == nil {
		f = &family{live: make(map[string]auth.RefreshRecord), access: make(map[string]time.Time)}
		rs.families[rec.Family] = f
	}
	if f.revoked {
		return auth.ErrRevoked
	}
	rec.Groups = slices.Clone(rec.Groups)
	f.live[rec.Key] = rec
	if access.JTI != "" {
		f.access[access.JTI] = access.Expires
	}
	if rec.Expires.After(f.expires) {
		f.expires = rec.Expires
	}
	rs.tokens[rec.Key] = refreshPointer{family: rec.Family, expires: rec.Expires}
	return nil
}

// SpendRefresh consumes a live token; see auth.RefreshStore.
func (s *Store) SpendRefresh(ctx context.Context, key string) (auth.RefreshRecord, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.refresh.tokens[key]
	if !ok || !now.Before(p.expires) {
		return auth.RefreshRecord{}, auth.ErrNotFound
	}
	f := s.refresh.families[p.family]
	if f == nil {
		return auth.RefreshRecord{}, auth.ErrNotFound
	}
	rec, live := f.live[key]
	if f.revoked || !live {
		out := auth.RefreshRecord{Family: p.family}
		for _, l := range f.live { // a spent token's successor: who holds the family now
			out.User, out.IP = l.User, l.IP
			break
		}
		return out, auth.ErrRevoked
	}
	delete(f.live, key)
	rec.Groups = slices.Clone(rec.Groups)
	return rec, nil
}

// RevokeFamily revokes a family; see auth.RefreshStore.
func (s *Store) RevokeFamily(ctx context.Context, fam string) ([]auth.TokenRef, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.refresh.families[fam]
	if f == nil {
		return nil, false, nil
	}
	first := !f.revoked
	f.revoked = true
	clear(f.live)
	var out []auth.TokenRef
	for jti, exp := range f.access {
		if now.Before(exp) {
			out = append(out, auth.TokenRef{JTI: jti, Expires: exp})
		}
	}
	slices.SortFunc(out, func(a, b auth.TokenRef) int { return a.Expires.Compare(b.Expires) })
	return out, first, nil
}

// sweep drops expired pointers, families and access entries.
func (rs *refreshState) sweep(now time.Time) {
	rs.lastSweep = now
	for k, p := range rs.tokens {
		if !now.Before(p.expires) {
			delete(rs.tokens, k)
		}
	}
	for name, f := range rs.families {
		if !now.Before(f.expires) {
			delete(rs.families, name)
			continue
		}
		for jti, exp := range f.access {
			if !now.Before(exp) {
				delete(f.access, jti)
			}
		}
	}
}
