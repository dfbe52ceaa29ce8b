package assertion

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

// Defaults for the zero values of SignerOptions.
const (
	DefaultTTL       = 60 * time.Second
	DefaultReuse     = 30 * time.Second
	DefaultCacheSize = 10000
)

// SignerOptions configures a Signer. Key and Issuer are required.
type SignerOptions struct {
	Key    *jwtauth.Signer
	Issuer string // iss: jwt.issue.issuer
	// TTL is each assertion's lifetime; 0: DefaultTTL.
	TTL time.Duration
	// Reuse is how long a signed assertion is handed out again for the
	// same claims and route, to spare a signature per request; it must be
	// under TTL so that every assertion sent has at least TTL-Reuse left.
	// 0: DefaultReuse; < 0: sign every time.
	Reuse time.Duration
	// CacheSize bounds the reused assertions; 0: DefaultCacheSize.
	CacheSize int
	Now       func() time.Time // nil: time.Now
}

// Signer signs identity assertions; it implements proxy.AssertionSigner.
// It is safe for concurrent use; a nil *Signer is not valid.
type Signer struct {
	o SignerOptions

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	token string
	until time.Time // reuse deadline
}

// NewSigner checks o and returns a Signer.
func NewSigner(o SignerOptions) (*Signer, error) {
	if o.Key == nil || o.Issuer == "" {
		return nil, errors.New("assertion: Key and Issuer are required")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Reuse == 0 {
		o.Reuse = DefaultReuse
	}
	if o.Reuse >= o.TTL {
		return nil, errors.New("assertion: Reuse must be shorter than TTL")
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Signer{o: o, cache: make(map[string]cached)}, nil
}

// Assert returns an assertion of id for the route audience. sub is
// id.User (the X-Auth-User value), or id.Subject when User is empty. A
// signed assertion is reused for Reuse across requests whose identities
// carry the same claims on the same route: its content is the same.
func (s *Signer) Assert(id *auth.Identity, audience string) (string, error) {
	if id == nil {
		return "", errors.New("assertion: no identity")
	}
	sub := id.User
	if sub == "" {
		sub = id.Subject
	}
	key := cacheKey(audience, id.Method, sub, id.Email, id.Groups)
	now := s.o.Now()
	if s.o.Reuse > 0 {
		s.mu.Lock()
		c, ok := s.cache[key]
		s.mu.Unlock()
		if ok && now.Before(c.until) {
			return c.token, nil
		}
	}
	extra := map[string]any{"auth": id.Method, "groups": groups(id.Groups)}
	if id.Email != "" {
		extra["email"] = id.Email
	}
	tok, _, _, err := s.o.Key.Mint(jwtauth.Claims{
		Issuer: s.o.Issuer, Audience: audience, Subject: sub, TTL: s.o.TTL, Extra: extra, Now: now,
		Type: jwtauth.TypeAssertion,
	})
	if err != nil {
		return "", err
	}
	if s.o.Reuse > 0 {
		s.store(key, cached{token: tok, until: now.Add(s.o.Reuse)}, now)
	}
	return tok, nil
}

// store adds an entry; a full cache first drops stale entries, then, if
// still full, everything.
func (s *Signer) store(key string, c cached, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= s.o.CacheSize {
		for k, v := range s.cache {
			if !now.Before(v.until) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= s.o.CacheSize {
			clear(s.cache)
		}
	}
	s.cache[key] = c
}

// cacheKey joins the claims an assertion depends on with separators no
// claim can hold unescaped ambiguity over: each part is length-prefixed.
func cacheKey(parts ...any) string {
	var b strings.Builder
	add := func(s string) {
		b.WriteString(itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			add(p)
		case []string:
			add(itoa(len(p)))
			for _, s := range p {
				add(s)
			}
		}
	}
	return b.String()
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

// groups is never null in an assertion.
func groups(g []string) []string {
	if g == nil {
		return []string{}
	}
	return g
}
