package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
)

// revokeRequest is POST /admin/revoke's body. Pointers tell an absent
// field from an empty one.
type revokeRequest struct {
	JTI     *string `json:"jti"`
	Exp     *int64  `json:"exp"`
	Subject *string `json:"subject"`
	Token   *string `json:"token"`
}

// decodeRevoke reads and checks the body strictly, returning a description
// of the first problem for the client.
func decodeRevoke(c *call, now time.Time) (revokeRequest, string) {
	var req revokeRequest
	raw, problem := readRevokeBody(c)
	if problem != "" {
		return req, problem
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return req, bodyProblem(err)
	}
	given := 0
	for _, p := range []*string{req.JTI, req.Subject, req.Token} {
		if p != nil {
			given++
		}
	}
	switch {
	case given == 0:
		return req, `give "jti" (with "exp"), "subject" or "token"`
	case given > 1:
		return req, `give one of "jti", "subject" or "token", not several`
	case req.Token != nil && req.Exp != nil:
		return req, `"exp" goes with "jti" only; a token's own exp is used`
	case req.Token != nil && *req.Token == "":
		return req, `"token" must not be empty`
	case req.Subject != nil && *req.Subject == "":
		return req, `"subject" must not be empty`
	case req.Subject != nil && req.Exp != nil:
		return req, `"exp" goes with "jti" only; a subject is revoked as of now`
	case req.JTI != nil && *req.JTI == "":
		return req, `"jti" must not be empty`
	case req.JTI != nil && req.Exp == nil:
		return req, `"exp" (the token's expiry, UNIX seconds) is required with "jti"`
	case req.JTI != nil && *req.Exp > auth.MaxUnix:
		return req, `"exp" must be UNIX seconds (this looks like milliseconds)`
	case req.JTI != nil && *req.Exp <= now.Unix():
		return req, `"exp" is in the past: the token has expired and needs no revocation`
	}
	return req, ""
}

// bodyProblem describes a JSON decoding error without echoing the body.
func bodyProblem(err error) string {
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return fmt.Sprintf("the body is larger than %d KiB", maxBody>>10)
	case errors.Is(err, io.EOF):
		return `the body is empty; send {"jti": "...", "exp": UNIX}, {"subject": "..."} or {"token": "<JWT>"}`
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is not valid JSON"
	case errors.As(err, &typ):
		return fmt.Sprintf("%q must be a %s", typ.Field, jsonKind(typ.Field))
	}
	// DisallowUnknownFields: `json: unknown field "x"`; the field name is
	// the caller's own input, quoted by encoding/json.
	return "the body is not a revocation: " + err.Error()
}

func jsonKind(field string) string {
	if field == "exp" {
		return "whole number (UNIX seconds)"
	}
	return "string"
}

// revoke serves POST /admin/revoke.
func (a *api) revoke(c *call) {
	now := a.now()
	req, problem := decodeRevoke(c, now)
	if req.Token != nil && problem == "" {
		a.revokeToken(c, *req.Token)
		return
	}
	if req.JTI != nil {
		c.action = "revoke_jti"
		c.set(slog.String("jti", clip(*req.JTI)))
	} else {
		c.action = "revoke_subject"
		if req.Subject != nil {
			c.set(slog.String("subject", clip(*req.Subject)))
		}
	}
	if problem != "" {
		c.fail(http.StatusBadRequest, "invalid_request", problem)
		return
	}
	ctx := c.r.Context()
	kind := "jti"
	var err error
	if req.JTI != nil {
		err = a.store.RevokeJTI(ctx, *req.JTI, time.Unix(*req.Exp, 0))
	} else {
		kind = "subject"
		err = a.store.RevokeSubject(ctx, *req.Subject, now)
		c.set(slog.Int64("revoked_at", now.Unix()))
	}
	if err != nil {
		c.unavailable(err)
		return
	}
	a.countRevocations(kind, 1)
	c.set(slog.Int("count", 1))
	if req.JTI != nil {
		c.event = auth.AuditEvent{Kind: auth.AuditRevocation, Detail: "token jti " + clip(*req.JTI) + " revoked"}
	} else {
		c.event = auth.AuditEvent{Kind: auth.AuditRevocation, User: *req.Subject, Detail: "all tokens and sessions of the subject revoked"}
	}
	c.ok(map[string]string{"revoked": kind})
}

// userParam returns the one non-empty user= query value, or answers 400.
func userParam(c *call) (string, bool) {
	users := c.r.URL.Query()["user"]
	if len(users) == 1 && users[0] != "" {
		c.set(slog.String("user", clip(users[0])))
		return users[0], true
	}
	c.fail(http.StatusBadRequest, "invalid_request", "give exactly one non-empty user= query parameter")
	return "", false
}

// Session is one session as GET /admin/sessions shows it; the CLI
// (`gatehouse sessions`) reads the same type.
type Session struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	Created   int64  `json:"created"`
	LastSeen  int64  `json:"last_seen"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

// SessionList is GET /admin/sessions' answer; Next, when set, is the
// cursor of the next page.
type SessionList struct {
	Sessions []Session `json:"sessions"`
	Next     string    `json:"next,omitempty"`
}

// pageParams reads limit= (1..auth.MaxSessionPage, default
// auth.DefaultSessionPage) and cursor= (opaque, from a previous "next"),
// or answers 400.
func pageParams(c *call) (cursor string, limit int, ok bool) {
	q := c.r.URL.Query()
	limit = auth.DefaultSessionPage
	if ls := q["limit"]; len(ls) > 0 {
		n, err := strconv.Atoi(ls[0])
		if len(ls) != 1 || err != nil || n < 1 || n > auth.MaxSessionPage {
			c.fail(http.StatusBadRequest, "invalid_request", fmt.Sprintf("limit must be one whole number from 1 to %d", auth.MaxSessionPage))
			return "", 0, false
		}
		limit = n
	}
	if cs := q["cursor"]; len(cs) > 1 {
		c.fail(http.StatusBadRequest, "invalid_request", `give at most one cursor= (the "next" of the previous page)`)
		return "", 0, false
	} else if len(cs) == 1 {
		cursor = cs[0]
	}
	return cursor, limit, true
}

// listSessions serves GET /admin/sessions?user=U[&limit=N][&cursor=C]:
// one page, least recently used session first.
func (a *api) listSessions(c *call) {
	c.action = "list_sessions"
	user, ok := userParam(c)
	if !ok {
		return
	}
	cursor, limit, ok := pageParams(c)
	if !ok {
		return
	}
	recs, next, err := a.store.UserSessions(c.r.Context(), user, cursor, limit)
	if errors.Is(err, auth.ErrBadCursor) {
		c.fail(http.StatusBadRequest, "invalid_request", `cursor is not one this API gave; start without it, then pass each page's "next"`)
		return
	}
	if err != nil {
		c.unavailable(err)
		return
	}
	out := make([]Session, 0, len(recs))
	for _, rec := range recs {
		out = append(out, view(rec))
	}
	c.set(slog.Int("count", len(out)), slog.Bool("more", next != ""))
	c.ok(SessionList{Sessions: out, Next: next})
}

func view(rec auth.SessionRecord) Session {
	return Session{
		ID: session.HandleFor(rec.Key), User: rec.User, Created: rec.Created.Unix(),
		LastSeen: rec.LastSeen.Unix(), IP: rec.IP, UserAgent: rec.UserAgent,
	}
}

// deleteUserSessions serves DELETE /admin/sessions?user=U: forced logout
// everywhere. No sessions is not an error: {"deleted": 0}.
func (a *api) deleteUserSessions(c *call) {
	c.action = "delete_user_sessions"
	user, ok := userParam(c)
	if !ok {
		return
	}
	n, err := a.store.DeleteUserSessions(c.r.Context(), user)
	if err != nil {
		c.unavailable(err)
		return
	}
	a.countRevocations("session", n)
	c.set(slog.Int("count", n))
	c.event = auth.AuditEvent{Kind: auth.AuditForcedLogout, User: user, Detail: fmt.Sprintf("all sessions ended (%d)", n)}
	c.ok(map[string]int{"deleted": n})
}

// deleteSession serves DELETE /admin/sessions/{id}, id being the handle
// GET /admin/sessions shows.
func (a *api) deleteSession(c *call, handle string) {
	c.action = "delete_session"
	key, ok := session.KeyForHandle(handle)
	if !ok {
		c.set(slog.String("session", "unknown"), slog.Int("count", 0))
		c.fail(http.StatusNotFound, "not_found", "no such session")
		return
	}
	found, err := a.store.DeleteSession(c.r.Context(), key)
	if err != nil {
		c.unavailable(err)
		return
	}
	if !found {
		// An unknown handle may be a pasted cookie value: not logged.
		c.set(slog.String("session", "unknown"), slog.Int("count", 0))
		c.fail(http.StatusNotFound, "not_found", "no such session")
		return
	}
	c.set(slog.String("session", handle))
	a.countRevocations("session", 1)
	c.set(slog.Int("count", 1))
	c.event = auth.AuditEvent{Kind: auth.AuditForcedLogout, Detail: "session " + handle + " ended"}
	c.ok(map[string]int{"deleted": 1})
}
