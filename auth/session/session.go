package session

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// Defaults for the zero fields of Options (README "Configuration reference").
const (
	DefaultCookieName = "gatehouse_session"
	DefaultIdle       = 30 * time.Minute
	DefaultAbsolute   = 12 * time.Hour
	DefaultMaxPerUser = 100
	DefaultSameSite   = http.SameSiteLaxMode
)

// maxUserAgent bounds the User-Agent kept with a session.
const maxUserAgent = 256

// Options configures a Manager. Only Store is required.
type Options struct {
	// Store keeps the sessions. Must not be nil.
	Store auth.SessionStore
	// Revocations answers subject revocation: a session created at or
	// before revoked:sub:<user> (UNIX seconds) is invalid. If nil, subject
	// revocation is not checked.
	Revocations auth.RevocationStore
	// Users is the current users directory (users.Watcher). When set, a
	// session signed in by password (its record carries a Credential) is
	// checked against it on every request: a user who is gone, or whose
	// password hash changed since sign-in, is refused (auth.ErrRevoked);
	// otherwise the identity's email and groups are the directory's, not those
	// recorded at sign-in. Sessions without a Credential (other sign-in
	// methods) are not checked. If nil, nothing is checked and Login
	// records no Credential.
	Users Directory
	// CookieName is the session cookie's name; "" means DefaultCookieName.
	CookieName string
	// Secure sets the cookie's Secure attribute.
	Secure bool
	// SameSite is the cookie's SameSite; 0 (http.SameSiteDefaultMode
	// excepted) means DefaultSameSite.
	SameSite http.SameSite
	// Domain is the cookie's Domain; "" means host-only.
	Domain string
	// Idle ends a session unused for this long; 0 means DefaultIdle.
	Idle time.Duration
	// Absolute ends a session this long after login however it is used;
	// 0 means DefaultAbsolute.
	Absolute time.Duration
	// MaxPerUser caps a user's sessions: a login beyond it ends that
	// user's least recently used sessions; 0 means DefaultMaxPerUser.
	MaxPerUser int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClientIP returns the client address recorded with a new session; nil
	// means the peer address of r.RemoteAddr.
	ClientIP func(r *http.Request) netip.Addr
	// Logger receives the causes of store failures; nil discards them.
	Logger *slog.Logger
}

// Directory looks local users up as the users files have them now; see
// users.Directory.Lookup, which users.Watcher and *users.Directory
// implement. It must be safe for concurrent use and cheap (a map read):
// it is asked on every request.
type Directory interface {
	Lookup(name string) (u users.User, fingerprint string, ok bool)
}

// Manager authenticates requests by their session cookie and starts and
// ends sessions. It is safe for concurrent use. Make it with New.
type Manager struct {
	o      Options
	rv     Revalidator // external sessions' revalidation (external.go); nil: none
	claims claimCache  // users' claim sets (claims.go)
}

// New returns a Manager with the zero fields of o set to their defaults,
// or an error if o.Store is nil.
func New(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, errors.New("session: Store is required")
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if o.SameSite == 0 {
		o.SameSite = DefaultSameSite
	}
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.Absolute <= 0 {
		o.Absolute = DefaultAbsolute
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = DefaultMaxPerUser
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientIP == nil {
		o.ClientIP = peerIP
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{o: o}, nil
}

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.o.CookieName }

func invalid(desc string) error {
	return &auth.Error{Kind: auth.ErrInvalid, Description: desc}
}

func unavailable(desc string, cause error) error {
	return &auth.Error{Kind: auth.ErrUnavailable, Description: desc, Cause: cause}
}

// key returns the store key named by the request's session cookie.
// No cookie is auth.ErrNoCredentials; two cookies with the name, or a value
// that is not a well-formed session ID, is auth.ErrInvalid.
func (m *Manager) key(r *http.Request) (string, error) {
	val, n := cookieValue(r.Header, m.o.CookieName)
	switch {
	case n == 0:
		return "", &auth.Error{Kind: auth.ErrNoCredentials, Description: "no session cookie"}
	case n > 1:
		return "", invalid("more than one session cookie")
	}
	key, ok := parseID(val)
	if !ok {
		return "", invalid("malformed session cookie")
	}
	return key, nil
}

// Authenticate returns the identity of the request's session, touching it
// in the store (one round trip for the session; plus one revocation lookup
// when Revocations is set). It fails with auth.ErrNoCredentials without a
// cookie, auth.ErrInvalid for an ambiguous, malformed, unknown or timed-out
// session (no store call for a malformed one), auth.ErrRevoked when the
// user was revoked after login or, for a password login, removed from the
// users files or given a new password hash (see Options.Users), and
// auth.ErrUnavailable when the store cannot answer.
func (m *Manager) Authenticate(r *http.Request) (*auth.Identity, error) {
	key, err := m.key(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	rec, err := m.o.Store.TouchSession(ctx, key, m.o.Idle)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, invalid("unknown or expired session")
	}
	if err != nil {
		return nil, unavailable("session store unavailable", err)
	}
	now := m.o.Now()
	end := rec.Created.Add(m.o.Absolute)
	if !now.Before(end) {
		if _, err := m.o.Store.DeleteSession(ctx, key); err != nil {
			m.o.Logger.Warn("delete timed-out session", "error", err)
		}
		return nil, invalid("session reached its absolute timeout")
	}
	if m.o.Revocations != nil {
		at, err := m.o.Revocations.SubjectRevokedAt(ctx, rec.User)
		if err != nil {
			return nil, unavailable("revocation store unavailable", err)
		}
		if !at.IsZero() && rec.Created.Unix() <= at.Unix() {
			return nil, &auth.Error{Kind: auth.ErrRevoked, Description: "session revoked"}
		}
	}
	if err := m.current(&rec); err != nil {
		return nil, err
	}
	if rec.Provider != "" && m.rv != nil {
		if err := m.rv.Revalidate(ctx, &rec); err != nil {
			return nil, err
		}
	}
	expires := now.Add(m.o.Idle)
	if end.Before(expires) {
		expires = end
	}
	return identity(rec, expires, m.claims.claims(rec)), nil
}

// current checks a password-login session against the users directory as
// it is now and takes the user's email and groups from it. A user who is
// gone, or whose password hash is no longer the one signed in with, is
// refused (auth.ErrRevoked). The session is not deleted here: a replica
// whose users files are older than the session's (a user just added, a
// password just changed, while this replica has not reloaded yet) must not
// destroy it. The reload that removed the user or changed the password
// deletes the user's sessions on every replica (DeleteUserSessions).
func (m *Manager) current(rec *auth.SessionRecord) error {
	if m.o.Users == nil || rec.Credential == "" {
		return nil
	}
	u, fp, ok := m.o.Users.Lookup(rec.User)
	if !ok || fp != rec.Credential {
		return &auth.Error{Kind: auth.ErrRevoked, Description: "session ended: the user was removed or the password changed"}
	}
	rec.Email, rec.Groups = u.Email, u.Groups
	return nil
}

func identity(rec auth.SessionRecord, expires time.Time, claims map[string]any) *auth.Identity {
	return &auth.Identity{
		Subject:   rec.User,
		User:      rec.User,
		Email:     rec.Email,
		Groups:    rec.Groups,
		Method:    auth.MethodSession,
		IssuedAt:  rec.Created,
		ExpiresAt: expires,
		Claims:    claims,
	}
}

// claims is a session's claim set; an external session's adds its
// provider.
func claims(rec auth.SessionRecord, groups []any) map[string]any {
	c := map[string]any{"sub": rec.User, "email": rec.Email, "groups": groups}
	if rec.Provider != "" {
		c["provider"] = rec.Provider
	}
	return c
}

// goneCredential is recorded for a user who left the directory between
// the password check and the session's creation: no fingerprint equals it.
const goneCredential = "-"

// Login starts a new session for u, just authenticated by password against
// the users files, and sets its cookie on w. With Options.Users set, the
// session records the fingerprint of u's password hash (auth.SessionRecord
// Credential) and is checked against the users files on every request. A
// sign-in method of another kind must not use Login, or its sessions would
// be refused as users missing from the users files. The session ID is
// always new (256 bits from crypto/rand): a session cookie the request
// carried is never reused, and the session it names, if any, is deleted. A store failure is auth.ErrUnavailable and sets no cookie.
func (m *Manager) Login(ctx context.Context, w http.ResponseWriter, r *http.Request, u users.User) error {
	if old, err := m.key(r); err == nil {
		if _, err := m.o.Store.DeleteSession(ctx, old); err != nil {
			m.o.Logger.Warn("delete previous session at login", "error", err)
		}
	}
	id, key := newID()
	now := m.o.Now()
	rec := auth.SessionRecord{
		Key:       key,
		User:      u.Username,
		Email:     u.Email,
		Groups:    u.Groups,
		Created:   now,
		LastSeen:  now,
		UserAgent: cleanUserAgent(r.UserAgent()),
	}
	if ip := m.o.ClientIP(r); ip.IsValid() {
		rec.IP = ip.String()
	}
	if m.o.Users != nil {
		// The hash u was just checked against, unless a reload swapped it
		// in the meantime: then the reload ends this session too. A user
		// already gone gets a Credential that never matches.
		rec.Credential = goneCredential
		if _, fp, ok := m.o.Users.Lookup(u.Username); ok {
			rec.Credential = fp
		}
	}
	if err := m.o.Store.CreateSession(ctx, rec, m.o.Idle, m.o.MaxPerUser); err != nil {
		return unavailable("session store unavailable", err)
	}
	http.SetCookie(w, m.cookie(id, int(m.o.Absolute/time.Second)))
	return nil
}

// Logout deletes the request's session from the store, if it names one,
// and expires the cookie on w. The cookie is expired even when the store
// fails, which is auth.ErrUnavailable.
func (m *Manager) Logout(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, m.cookie("", -1))
	key, err := m.key(r)
	if err != nil {
		return nil
	}
	if _, err := m.o.Store.DeleteSession(ctx, key); err != nil {
		return unavailable("session store unavailable", err)
	}
	return nil
}

func (m *Manager) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     m.o.CookieName,
		Value:    value,
		Path:     "/",
		Domain:   m.o.Domain,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   m.o.Secure,
		SameSite: m.o.SameSite,
	}
}

func peerIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// cleanUserAgent keeps at most maxUserAgent bytes of valid, printable UTF-8.
func cleanUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "")
	ua = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, ua)
	for len(ua) > maxUserAgent {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}
