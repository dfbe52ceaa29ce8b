package auth

import (
	"context"
	"errors"
	"time"
)

// RevocationStore answers and records revocations (README "The Redis key schema"). Errors
// other than context cancellation mean the store could not answer.
type RevocationStore interface {
	// JTIRevoked reports whether the token with this jti is revoked.
	JTIRevoked(ctx context.Context, jti string) (bool, error)
	// SubjectRevokedAt returns the time at or before which the subject's
	// tokens and sessions are revoked; the zero time when never.
	SubjectRevokedAt(ctx context.Context, sub string) (time.Time, error)
	// RevokeJTI revokes one token until its expiry.
	RevokeJTI(ctx context.Context, jti string, exp time.Time) error
	// RevokeSubject revokes every token issued, and session created, at or
	// before at (UNIX seconds resolution).
	RevokeSubject(ctx context.Context, sub string, at time.Time) error
}

// SessionRecord is what the store keeps for a browser session. It never
// contains the session ID, only its hash (Key).
type SessionRecord struct {
	Key       string    `json:"-"` // hex SHA-256 of the session ID
	User      string    `json:"user"`
	Email     string    `json:"email,omitempty"`
	Groups    []string  `json:"groups,omitempty"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Credential is the fingerprint of the local password hash the session
	// was signed in with (users.Fingerprint). Set only by the password
	// login: a session carrying it is checked against the current users
	// files on every request; one without it (another sign-in method) is not.
	Credential string `json:"cred,omitempty"`
	// External sign-in (OIDC, auth/oidc): the provider's name, the IdP's
	// sub and sid, and the IdP's tokens. The tokens stay server-side: they
	// are never in a cookie, a log line or an admin API answer.
	Provider     string `json:"provider,omitempty"`
	Subject      string `json:"idp_sub,omitempty"`
	SID          string `json:"idp_sid,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Checked is when an external session was last confirmed at its IdP
	// (sign-in or refresh); revalidation counts from it.
	Checked time.Time `json:"checked,omitempty"`
	// Link, on an index record of an external session (see
	// session.Manager.LoginExternal), is the key of the session it indexes.
	Link string `json:"link,omitempty"`
	// Extra holds the data of records that are not sessions (an OIDC
	// sign-in in progress, keyed by its state).
	Extra map[string]string `json:"extra,omitempty"`
}

// Counted reports whether the record is a user's session, as
// SessionCounter counts: not an index record (Link) nor a record that is
// not a session (Extra: an OIDC sign-in in progress).
func (r SessionRecord) Counted() bool { return r.Link == "" && len(r.Extra) == 0 }

// SessionUpdater is implemented by stores that can change a live
// session's record in place and hold short named locks (both stores of
// this module): OIDC revalidation needs it.
type SessionUpdater interface {
	// UpdateSession replaces the record of the live session rec.Key,
	// keeping its expiry and epoch, and drops it from every replica's
	// cache. ErrNotFound when the session is gone.
	UpdateSession(ctx context.Context, rec SessionRecord) error
	// TryLock takes the named lock for at most ttl; false when another
	// holder has it.
	TryLock(ctx context.Context, name string, ttl time.Duration) (bool, error)
	// Unlock releases the named lock.
	Unlock(ctx context.Context, name string) error
}

// SessionCounter is implemented by stores that keep a cheap count of
// every user's live sessions (both stores of this module): the admin
// console's overview shows it.
type SessionCounter interface {
	// ActiveSessions returns how many sessions (records that are
	// Counted) have not expired and were not deleted. Sessions ended by a forced logout (DeleteUserSessions)
	// may still be counted until the store's background cleanup removes
	// them or they expire.
	ActiveSessions(ctx context.Context) (int, error)
}

// Paging of UserSessions: a limit of 0 means DefaultSessionPage; more than
// MaxSessionPage is MaxSessionPage.
const (
	DefaultSessionPage = 100
	MaxSessionPage     = 1000
)

// ErrBadCursor is returned by UserSessions for a cursor it did not make.
var ErrBadCursor = errors.New("malformed session cursor")

// SessionStore keeps server-side sessions under the hash of their ID.
type SessionStore interface {
	// CreateSession stores rec under rec.Key, expiring after idle unless
	// touched, and indexes it under rec.User. With maxPerUser > 0, the
	// user's sessions beyond maxPerUser (this one included) are ended,
	// those closest to expiry (least recently used) first; this one never.
	CreateSession(ctx context.Context, rec SessionRecord, idle time.Duration, maxPerUser int) error
	// TouchSession returns the session and slides its expiry to now+idle.
	// ErrNotFound when absent, expired, or ended by DeleteUserSessions.
	TouchSession(ctx context.Context, key string, idle time.Duration) (SessionRecord, error)
	// DeleteSession removes one session; false when it did not exist.
	DeleteSession(ctx context.Context, key string) (bool, error)
	// UserSessions lists one page of at most limit of the user's live
	// sessions, least recently used first, from cursor ("" for the first
	// page); next is "" on the last page. A session that changes between
	// pages may be listed twice or not at all. ErrBadCursor for a cursor
	// UserSessions did not return.
	UserSessions(ctx context.Context, user, cursor string, limit int) (page []SessionRecord, next string, err error)
	// DeleteUserSessions ends every session of the user in one atomic
	// step, whatever their number, and returns how many were live.
	// Sessions created afterwards are not affected. The stored records
	// may be removed later, in the background.
	DeleteUserSessions(ctx context.Context, user string) (int, error)
}

// RefreshRecord is a refresh token as the store keeps it. It never
// contains the token, only its hash (Key).
type RefreshRecord struct {
	Key      string    `json:"-"`      // hex SHA-256 of the refresh token
	Family   string    `json:"family"` // every token rotated from one password grant shares it
	User     string    `json:"user"`
	Email    string    `json:"email,omitempty"`
	Groups   []string  `json:"groups,omitempty"`
	AuthTime time.Time `json:"auth_time"` // when the family began (the password grant)
	Created  time.Time `json:"created"`   // when this token was issued
	Expires  time.Time `json:"expires"`
	// Credential is the fingerprint of the password hash the family's
	// password grant was checked against (users.Fingerprint); a refresh
	// after the hash changed is refused.
	Credential string `json:"cred,omitempty"`
	// IP is the address of the client the token was issued to (the
	// password grant's or the refresh's), for the refresh_reuse audit
	// event.
	IP string `json:"ip,omitempty"`
}

// TokenRef names an access token issued with a refresh token, so that
// revoking the family can revoke it (revoked:jti until Expires).
type TokenRef struct {
	JTI     string
	Expires time.Time
}

// RefreshStore keeps refresh-token families (rotation with reuse
// detection). A family holds its live refresh tokens and the access tokens
// issued from it; revoking it kills both.
type RefreshStore interface {
	// CreateRefresh stores rec as a live token of family rec.Family until
	// rec.Expires and records access in the family. ErrRevoked when the
	// family has been revoked.
	CreateRefresh(ctx context.Context, rec RefreshRecord, access TokenRef) error
	// SpendRefresh consumes the live token with this key, in one atomic
	// step, and returns its record. A token that was spent before, or whose
	// family is revoked, returns ErrRevoked with a record holding Family
	// and, when the family still has a live token (a spent token's
	// successor), that token's User and IP (the client the family was last
	// issued to); an unknown or expired key returns ErrNotFound.
	SpendRefresh(ctx context.Context, key string) (RefreshRecord, error)
	// RevokeFamily marks the family revoked, drops its live tokens and
	// returns the access tokens issued from it that have not expired; first
	// is false when the family was already revoked (or is unknown).
	RevokeFamily(ctx context.Context, family string) (access []TokenRef, first bool, err error)
}

// Store is everything Gatehouse keeps outside the process.
type Store interface {
	RevocationStore
	SessionStore
	RefreshStore
	// Ping reports whether the store answers; used by /readyz.
	Ping(ctx context.Context) error
	// Close releases connections and background work.
	Close() error
}
