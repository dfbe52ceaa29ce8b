package refresh

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

// Defaults for the zero values of Options.
const (
	DefaultAccessTTL  = 5 * time.Minute
	DefaultRefreshTTL = 720 * time.Hour
	// DefaultMaxLifetime is how long a family may go on refreshing after
	// its password grant (jwt.issue.refresh_max_lifetime).
	DefaultMaxLifetime = 2160 * time.Hour
)

// tokenLen is the length of a refresh token: 32 bytes in unpadded base64url.
const tokenLen = 43

// Store is what the Service keeps outside the process: the families and
// the revocation list the access tokens are checked against.
type Store interface {
	auth.RefreshStore
	auth.RevocationStore
}

// Options configures a Service. Store, Signer, Issuer and Audience are
// required; the zero value of every other field is documented on it.
type Options struct {
	Store    Store
	Signer   *jwtauth.Signer
	Issuer   string // iss of the access tokens (jwt.issue.issuer)
	Audience string // aud of the access tokens (jwt.issue.audience)
	// AccessTTL is the access tokens' lifetime; 0: DefaultAccessTTL.
	AccessTTL time.Duration
	// RefreshTTL is each refresh token's lifetime; 0: DefaultRefreshTTL.
	RefreshTTL time.Duration
	// MaxLifetime is how long after its password grant (AuthTime) a family
	// may refresh; no refresh token of it outlives that. 0:
	// DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Users is the current users directory (users.Watcher). When set, a
	// refresh looks the family's user up in it: a user who is gone, or
	// whose password hash changed since the password grant, gets
	// invalid_grant and the family is revoked; otherwise the new tokens
	// carry the directory's email and groups. If nil, the family's own are
	// used and nothing is checked.
	Users Directory
	// OnFamilyRevoked is called once per family revoked (reuse or
	// revocation), for gatehouse_revocations_total{kind="family"}. It must
	// be safe for concurrent use. Nil: ignored.
	OnFamilyRevoked func()
	Now             func() time.Time // nil: time.Now
	Logger          *slog.Logger     // nil: discard; never receives a token
	// Audit receives the refresh_reuse event of a reused refresh token
	// (the client is the context's auth.AuditClientOf); nil: none.
	Audit auth.Auditor
}

// Directory looks local users up as the users files have them now (see
// users.Directory.Lookup, which users.Watcher implements). It must be safe
// for concurrent use.
type Directory interface {
	Lookup(name string) (u users.User, fingerprint string, ok bool)
}

// goneCredential is recorded for a user who left the directory between
// the password check and Issue: no fingerprint equals it.
const goneCredential = "-"

// User is who a password grant was made for.
type User struct {
	Name   string // the subject (sub) of the access tokens
	Email  string // may be empty
	Groups []string
}

// Grant is a token pair as the token endpoint returns it.
type Grant struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
}

// Service issues, rotates and revokes token pairs. It is immutable and safe
// for concurrent use; a nil *Service is not valid.
type Service struct {
	o      Options
	access *jwtauth.Verifier // Gatehouse's own tokens, no revocation check: for Revoke
}

// New checks o and builds the verifier Revoke uses for access tokens.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Signer == nil || o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("refresh: Store, Signer, Issuer and Audience are required")
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = DefaultRefreshTTL
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = DefaultMaxLifetime
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnFamilyRevoked == nil {
		o.OnFamilyRevoked = func() {}
	}
	keys := o.Signer.PublicKeys()
	v, err := jwtauth.NewVerifier(jwtauth.Options{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer: o.Issuer, Audiences: []string{o.Audience}, Algorithms: Algorithms(keys), Keys: keys,
		}},
		Now: o.Now, CacheSize: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return &Service{o: o, access: v}, nil
}

// Algorithms returns the distinct alg members of set's keys, in order:
// the allow-list that verifies every token signed with one of them.
func Algorithms(set jwk.Set) []string {
	var out []string
	seen := map[string]bool{}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if a := k.Algorithm(); a != nil && a.String() != "" && !seen[a.String()] {
			seen[a.String()] = true
			out = append(out, a.String())
		}
	}
	return out
}

// Issue starts a family for u, just authenticated by password, and returns
// its first pair.
func (s *Service) Issue(ctx context.Context, u User) (Grant, error) {
	if u.Name == "" {
		return Grant{}, errors.New("refresh: issue: empty user name")
	}
	now := s.o.Now()
	rec := auth.RefreshRecord{
		Family: randomString(16), User: u.Name, Email: u.Email, Groups: u.Groups, AuthTime: now,
		IP: auth.AuditClientOf(ctx).IP,
	}
	if s.o.Users != nil {
		rec.Credential = goneCredential
		if _, fp, ok := s.o.Users.Lookup(u.Name); ok {
			rec.Credential = fp
		}
	}
	return s.issue(ctx, rec, now)
}

// Refresh spends token and returns the next pair of its family. Errors:
// auth.ErrInvalid (unknown, expired, malformed, of a revoked subject, of a
// family older than MaxLifetime, or of a user removed from the users files
// or given a new password hash since the grant: that family is revoked),
// auth.ErrRevoked (reuse: the family is now revoked), auth.ErrUnavailable.
func (s *Service) Refresh(ctx context.Context, token string) (Grant, error) {
	if !wellFormed(token) {
		return Grant{}, &auth.Error{Kind: auth.ErrInvalid, Description: "refresh token is invalid"}
	}
	rec, err := s.o.Store.SpendRefresh(ctx, Key(token))
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return Grant{}, &auth.Error{Kind: auth.ErrInvalid, Description: "refresh token is invalid or expired"}
	case errors.Is(err, auth.ErrRevoked):
		s.o.Logger.WarnContext(ctx, "refresh token reused; revoking its family", "event", "revocation", "kind", "family")
		rerr := s.revokeFamily(ctx, rec.Family)
		s.auditReuse(ctx, rec, rerr)
		if rerr != nil {
			return Grant{}, rerr
		}
		return Grant{}, &auth.Error{Kind: auth.ErrRevoked, Description: "refresh token was already used; its grant is revoked"}
	case err != nil:
		return Grant{}, &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
	}
	at, err := s.o.Store.SubjectRevokedAt(ctx, rec.User)
	if err != nil {
		return Grant{}, &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
	}
	if !at.IsZero() && rec.AuthTime.Unix() <= at.Unix() {
		return Grant{}, &auth.Error{Kind: auth.ErrInvalid, Description: "refresh token is revoked"}
	}
	now := s.o.Now()
	if now.Add(minRemaining).After(rec.AuthTime.Add(s.o.MaxLifetime)) {
		return Grant{}, &auth.Error{Kind: auth.ErrInvalid, Description: "refresh grant reached its maximum lifetime; sign in again"}
	}
	if err := s.current(ctx, &rec); err != nil {
		return Grant{}, err
	}
	rec.IP = auth.AuditClientOf(ctx).IP
	return s.issue(ctx, rec, now)
}

// minRemaining is the least lifetime a family must have left to refresh,
// so that the last token it gets can still be stored and used.
const minRemaining = 100 * time.Millisecond

// current checks the family's user against the users directory as it is
// now and takes their email and groups from it. A user who is gone, or
// whose password hash is not the one of the grant, revokes the family.
func (s *Service) current(ctx context.Context, rec *auth.RefreshRecord) error {
	if s.o.Users == nil {
		return nil
	}
	u, fp, ok := s.o.Users.Lookup(rec.User)
	if ok && (rec.Credential == "" || fp == rec.Credential) {
		rec.Email, rec.Groups = u.Email, u.Groups
		return nil
	}
	s.o.Logger.WarnContext(ctx, "refresh refused: user removed or password changed; revoking its family",
		"event", "revocation", "kind", "family", "user", rec.User)
	if err := s.revokeFamily(ctx, rec.Family); err != nil {
		return err
	}
	return &auth.Error{Kind: auth.ErrInvalid, Description: "refresh token is revoked: the user was removed or the password changed; sign in again"}
}

// issue mints an access token and a refresh token for rec's family.
func (s *Service) issue(ctx context.Context, rec auth.RefreshRecord, now time.Time) (Grant, error) {
	extra := map[string]any{}
	if rec.Email != "" {
		extra["email"] = rec.Email
	}
	if len(rec.Groups) > 0 {
		extra["groups"] = rec.Groups
	}
	access, jti, exp, err := s.o.Signer.Mint(jwtauth.Claims{
		Issuer: s.o.Issuer, Audience: s.o.Audience, Subject: rec.User, TTL: s.o.AccessTTL, Extra: extra, Now: now,
	})
	if err != nil {
		return Grant{}, fmt.Errorf("refresh: %w", err)
	}
	token := randomString(32)
	rec.Key, rec.Created, rec.Expires = Key(token), now, now.Add(s.o.RefreshTTL)
	if end := rec.AuthTime.Add(s.o.MaxLifetime); end.Before(rec.Expires) {
		rec.Expires = end // no token of the family outlives its maximum lifetime
	}
	err = s.o.Store.CreateRefresh(ctx, rec, auth.TokenRef{JTI: jti, Expires: exp})
	switch {
	case errors.Is(err, auth.ErrRevoked):
		return Grant{}, &auth.Error{Kind: auth.ErrRevoked, Description: "refresh token was already used; its grant is revoked"}
	case err != nil:
		return Grant{}, &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
	}
	return Grant{AccessToken: access, ExpiresIn: exp.Sub(time.Unix(now.Unix(), 0)), RefreshToken: token}, nil
}

// Revoke revokes token per RFC 7009: a refresh token revokes its family
// (every refresh token and the access tokens issued from it); an access
// token signed by Gatehouse is revoked until its exp. Unknown, expired and
// foreign tokens are ignored (nil). Errors are auth.ErrUnavailable.
func (s *Service) Revoke(ctx context.Context, token string) error {
	if wellFormed(token) {
		rec, err := s.o.Store.SpendRefresh(ctx, Key(token))
		switch {
		case errors.Is(err, auth.ErrNotFound):
			return nil
		case err != nil && !errors.Is(err, auth.ErrRevoked):
			return &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
		}
		return s.revokeFamily(ctx, rec.Family)
	}
	if !strings.Contains(token, ".") {
		return nil
	}
	id, err := s.access.Verify(ctx, token)
	if err != nil || id.TokenID == "" {
		return nil // expired, foreign or forged: nothing of ours to revoke
	}
	if err := s.o.Store.RevokeJTI(ctx, id.TokenID, id.ExpiresAt); err != nil {
		return &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
	}
	return nil
}

// revokeFamily revokes the family and writes each of its live access
// tokens to the revocation list.
func (s *Service) revokeFamily(ctx context.Context, family string) error {
	refs, first, err := s.o.Store.RevokeFamily(ctx, family)
	if err != nil {
		return &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
	}
	for _, r := range refs {
		if err := s.o.Store.RevokeJTI(ctx, r.JTI, r.Expires); err != nil {
			return &auth.Error{Kind: auth.ErrUnavailable, Description: "token store unavailable", Cause: err}
		}
	}
	if first {
		s.o.OnFamilyRevoked()
	}
	return nil
}

// Key is the store key of a refresh token: its hex SHA-256.
func Key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether token has the shape of a refresh token.
func wellFormed(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// auditReuse records a refresh-token reuse: the family, its user, the
// client it was last issued to (the first use of the reused token) and
// the client reusing it, and whether the family's revocation succeeded.
func (s *Service) auditReuse(ctx context.Context, rec auth.RefreshRecord, revokeErr error) {
	c := auth.AuditClientOf(ctx)
	first := rec.IP
	if first == "" {
		first = "unknown"
	}
	revoked := "family revoked"
	if revokeErr != nil {
		revoked = "family revocation failed"
	}
	auth.Audit(ctx, s.o.Audit, auth.AuditEvent{
		Kind: auth.AuditRefreshReuse, User: rec.User, IP: c.IP, RequestID: c.RequestID,
		Detail: "family " + rec.Family + "; last issued to " + first + "; reused from " + c.IP + "; " + revoked,
	})
}
