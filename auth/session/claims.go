package session

import (
	"slices"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// maxClaimSets bounds claimCache: past it the cache starts over, which
// only costs building claim sets again.
const maxClaimSets = 4096

// claimCache keeps each session user's claim set (sub, email, groups,
// provider) while those values stay the same, so that a request's identity
// does not build the same map again: the map and its groups are shared by
// the identities of the user's requests. Claims are never modified by
// their readers (the JWT verifier's token cache shares whole identities
// the same way). Safe for concurrent use; the zero value is ready.
type claimCache struct {
	mu   sync.RWMutex
	sets map[string]*claimSet // by user
}

// claimSet is one user's claim set and the values it was built from.
type claimSet struct {
	email, provider string
	groups          []string // a copy
	claims          map[string]any
}

// claims returns rec's claim set, cached or new.
func (c *claimCache) claims(rec auth.SessionRecord) map[string]any {
	c.mu.RLock()
	cs := c.sets[rec.User]
	c.mu.RUnlock()
	if cs != nil && cs.email == rec.Email && cs.provider == rec.Provider && slices.Equal(cs.groups, rec.Groups) {
		return cs.claims
	}
	groups := make([]any, len(rec.Groups))
	for i, g := range rec.Groups {
		groups[i] = g
	}
	cs = &claimSet{email: rec.Email, provider: rec.Provider, groups: slices.Clone(rec.Groups), claims: claims(rec, groups)}
	c.mu.Lock()
	if c.sets == nil || len(c.sets) >= maxClaimSets {
		c.sets = make(map[string]*claimSet)
	}
	c.sets[rec.User] = cs
	c.mu.Unlock()
	return cs.claims
}
