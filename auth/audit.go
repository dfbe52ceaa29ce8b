package auth

import (
	"context"
	"time"
)

// The audit event kinds (README "Admin console and audit trail").
const (
	AuditLogin             = "login"
	AuditLoginFailure      = "login_failure"
	AuditLogout            = "logout"
	AuditForcedLogout      = "forced_logout"
	AuditRevocation        = "revocation"
	AuditRefreshReuse      = "refresh_reuse"
	AuditBackchannelLogout = "backchannel_logout"
	AuditAdminAction       = "admin_action"
)

// AuditKinds lists every audit kind, in a fixed order.
var AuditKinds = []string{
	AuditLogin, AuditLoginFailure, AuditLogout, AuditForcedLogout,
	AuditRevocation, AuditRefreshReuse, AuditBackchannelLogout, AuditAdminAction,
}

// ValidAuditKind reports whether k is one of AuditKinds.
func ValidAuditKind(k string) bool {
	for _, v := range AuditKinds {
		if v == k {
			return true
		}
	}
	return false
}

// AuditEvent is one entry of the audit trail. It never holds a token, a
// cookie, a password or a session ID: Detail is a short description
// written by Gatehouse (a family ID, a jti, a count), never a secret.
type AuditEvent struct {
	Time      time.Time
	Kind      string
	User      string // whom the event is about
	Actor     string // who did it: the admin, or "" for the user themself
	IP        string // the client's address
	Detail    string
	RequestID string
}

// AuditFilter selects events of AuditLog.ListAudit: every field is
// optional ("" and zero match everything).
type AuditFilter struct {
	User  string // exact match
	Kind  string // exact match
	Since time.Time
	// Limit is the most events returned: 0 means DefaultAuditPage; more
	// than MaxAuditPage is MaxAuditPage.
	Limit int
}

// Paging of ListAudit.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
	// DefaultAuditMax is audit.max_events's default.
	DefaultAuditMax = 10000
)

// AuditPageLimit returns the page size ListAudit serves for limit.
func AuditPageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultAuditPage
	case limit > MaxAuditPage:
		return MaxAuditPage
	}
	return limit
}

// AuditLog keeps the newest audit events, shared by replicas when the
// store is. Both stores of this module implement it (memstore: a ring in
// process; redisstore: the stream gatehouse:audit).
type AuditLog interface {
	// AppendAudit keeps e, dropping the oldest event beyond the store's
	// maximum. A zero e.Time is the store's now.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns the events matching f, newest first. The scan is
	// bounded by the store's maximum number of events.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// Auditor records audit events where they happen (login, logout,
// revocations, admin actions). Implementations log nothing themselves
// and never fail the caller: errors are theirs to report.
type Auditor interface {
	Audit(ctx context.Context, e AuditEvent)
}

// Audit calls a.Audit when a is not nil.
func Audit(ctx context.Context, a Auditor, e AuditEvent) {
	if a != nil {
		a.Audit(ctx, e)
	}
}

type auditClientKey struct{}

// AuditClient is the client of a request as audit events name it.
type AuditClient struct {
	IP        string
	RequestID string
}

// WithAuditClient returns ctx carrying the request's client, for audit
// events recorded below the HTTP layer (refresh-token reuse).
func WithAuditClient(ctx context.Context, c AuditClient) context.Context {
	return context.WithValue(ctx, auditClientKey{}, c)
}

// AuditClientOf returns the client WithAuditClient stored, or the zero
// value.
func AuditClientOf(ctx context.Context) AuditClient {
	c, _ := ctx.Value(auditClientKey{}).(AuditClient)
	return c
}
