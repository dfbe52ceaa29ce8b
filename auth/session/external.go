package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// External is an identity signed in at an external identity provider
// (OIDC): the mapped user name, email and groups, the provider's name, the
// IdP's sub and sid, and the IdP's tokens (kept server-side with the
// session).
type External struct {
	User, Email  string
	Groups       []string
	Provider     string
	Subject, SID string
	IDToken      string
	RefreshToken string
}

// Revalidator confirms an external session at its identity provider
// (auth/oidc). Revalidate may update *rec (email, groups); an error ends
// the request's authentication (auth.ErrInvalid when the IdP ended the
// session, which is then deleted).
type Revalidator interface {
	Revalidate(ctx context.Context, rec *auth.SessionRecord) error
}

// SetRevalidator installs rv; call it before the Manager serves requests.
func (m *Manager) SetRevalidator(rv Revalidator) { m.rv = rv }

// LinkUser is the store user under which the index records of a
// provider's subject are kept: one record per session, whose Link is the
// session's key, so that a back-channel logout can find the sessions of a
// sub (or sid) without knowing the mapped user name. The admin API lists
// them under this name like any user's sessions.
func LinkUser(provider, sub string) string { return "oidc:" + provider + ":" + sub }

// SIDLinkUser is like LinkUser for the IdP's session ID (sid): a logout
// token may name the sid alone.
func SIDLinkUser(provider, sid string) string { return "oidc-sid:" + provider + ":" + sid }

// LoginExternal starts a new session for e like Login does for a password
// login (same cookie, store, timeouts, per-user cap), but without a
// Credential: the users files never end it. It also stores the session's
// index record under LinkUser(e.Provider, e.Subject), living as long as
// the session can (the absolute timeout). A store failure is
// auth.ErrUnavailable and sets no cookie.
func (m *Manager) LoginExternal(ctx context.Context, w http.ResponseWriter, r *http.Request, e External) error {
	if e.Provider == "" || e.Subject == "" || e.User == "" {
		return errors.New("session.LoginExternal: Provider, Subject and User are required")
	}
	if old, err := m.key(r); err == nil {
		if _, err := m.o.Store.DeleteSession(ctx, old); err != nil {
			m.o.Logger.Warn("delete previous session at login", "error", err)
		}
	}
	id, key := newID()
	now := m.o.Now()
	rec := auth.SessionRecord{
		Key: key, User: e.User, Email: e.Email, Groups: e.Groups,
		Created: now, LastSeen: now, UserAgent: cleanUserAgent(r.UserAgent()),
		Provider: e.Provider, Subject: e.Subject, SID: e.SID,
		IDToken: e.IDToken, RefreshToken: e.RefreshToken, Checked: now,
	}
	if ip := m.o.ClientIP(r); ip.IsValid() {
		rec.IP = ip.String()
	}
	link := auth.SessionRecord{
		Key: PrivateKey("oidc-link"), User: LinkUser(e.Provider, e.Subject),
		Created: now, LastSeen: now, Provider: e.Provider, Subject: e.Subject, SID: e.SID, Link: key,
	}
	// The index first: a session that exists is always findable.
	if err := m.o.Store.CreateSession(ctx, link, m.o.Absolute, 0); err != nil {
		return unavailable("session store unavailable", err)
	}
	if e.SID != "" {
		link.Key, link.User = PrivateKey("oidc-link"), SIDLinkUser(e.Provider, e.SID)
		if err := m.o.Store.CreateSession(ctx, link, m.o.Absolute, 0); err != nil {
			return unavailable("session store unavailable", err)
		}
	}
	if err := m.o.Store.CreateSession(ctx, rec, m.o.Idle, m.o.MaxPerUser); err != nil {
		return unavailable("session store unavailable", err)
	}
	http.SetCookie(w, m.cookie(id, int(m.o.Absolute/time.Second)))
	return nil
}

// EndExternal ends a provider's sessions with this sid (and, when sub is
// not "", this sub), or, when sid is "", all of the subject's sessions.
// Each session is deleted from the store (which tells every replica), with
// its index record. It returns how many sessions were live.
func (m *Manager) EndExternal(ctx context.Context, provider, sub, sid string) (int, error) {
	user := LinkUser(provider, sub)
	if sid != "" {
		user = SIDLinkUser(provider, sid)
	}
	n, cursor := 0, ""
	for pages := 0; pages < 1000; pages++ {
		page, next, err := m.o.Store.UserSessions(ctx, user, cursor, auth.MaxSessionPage)
		if err != nil {
			return n, unavailable("session store unavailable", err)
		}
		for _, l := range page {
			if l.Provider != provider || l.Link == "" || (sub != "" && l.Subject != sub) || (sid != "" && l.SID != sid) {
				continue
			}
			ok, err := m.o.Store.DeleteSession(ctx, l.Link)
			if err != nil {
				return n, unavailable("session store unavailable", err)
			}
			if ok {
				n++
			}
			if _, err := m.o.Store.DeleteSession(ctx, l.Key); err != nil {
				m.o.Logger.Warn("delete session index record", "error", err)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return n, nil
}

// Record returns the store record of the request's session (touching it),
// without the checks of Authenticate: logout uses it to read what the
// session keeps (the IdP's ID token for RP-initiated logout).
func (m *Manager) Record(r *http.Request) (auth.SessionRecord, error) {
	key, err := m.key(r)
	if err != nil {
		return auth.SessionRecord{}, err
	}
	rec, err := m.o.Store.TouchSession(r.Context(), key, m.o.Idle)
	if errors.Is(err, auth.ErrNotFound) {
		return auth.SessionRecord{}, invalid("unknown or expired session")
	}
	if err != nil {
		return auth.SessionRecord{}, unavailable("session store unavailable", err)
	}
	return rec, nil
}

// PrivateKey returns a new random store key for a record that is not a
// session (an index record, an OIDC sign-in in progress): the hex SHA-256
// of kind, a NUL byte and 32 random bytes. No session cookie names it: a
// session's key is the SHA-256 of exactly 32 bytes.
func PrivateKey(kind string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return KeyFor(kind, hex.EncodeToString(b[:]))
}

// KeyFor returns the store key of a record that is not a session, named by
// kind and a secret value (an OIDC state): the hex SHA-256 of kind, a NUL
// byte and value. It never equals a session's key (see PrivateKey).
func KeyFor(kind, value string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + value))
	return hex.EncodeToString(sum[:])
}
