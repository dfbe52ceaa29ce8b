package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// AuditEvent is one event as GET /admin/audit shows it (time in UNIX
// seconds).
type AuditEvent struct {
	Time      int64  `json:"time"`
	Kind      string `json:"kind"`
	User      string `json:"user"`
	Actor     string `json:"actor"`
	IP        string `json:"ip"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// AuditList is GET /admin/audit's answer, newest first.
type AuditList struct {
	Events []AuditEvent `json:"events"`
}

// AuditView is e as the admin API and the console show it.
func AuditView(e auth.AuditEvent) AuditEvent {
	return AuditEvent{
		Time: e.Time.Unix(), Kind: e.Kind, User: e.User, Actor: e.Actor, IP: e.IP,
		Detail: e.Detail, RequestID: e.RequestID,
	}
}

// ParseAuditFilter reads user=, kind= and limit= (each at most once;
// limit 1..auth.MaxAuditPage, default auth.DefaultAuditPage; kind one of
// auth.AuditKinds) and returns a description of the first problem.
func ParseAuditFilter(q map[string][]string) (auth.AuditFilter, string) {
	var f auth.AuditFilter
	for name := range q {
		switch name {
		case "user", "kind", "limit":
		default:
			return f, "unknown parameter " + strconv.Quote(clip(name)) + "; use user=, kind= and limit="
		}
		if len(q[name]) != 1 {
			return f, "give " + name + "= at most once"
		}
	}
	if v, ok := q["user"]; ok {
		f.User = v[0]
	}
	if v, ok := q["kind"]; ok && v[0] != "" {
		if !auth.ValidAuditKind(v[0]) {
			return f, "kind must be one of " + strings.Join(auth.AuditKinds, ", ")
		}
		f.Kind = v[0]
	}
	f.Limit = auth.DefaultAuditPage
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > auth.MaxAuditPage {
			return f, fmt.Sprintf("limit must be one whole number from 1 to %d", auth.MaxAuditPage)
		}
		f.Limit = n
	}
	return f, ""
}

// listAudit serves GET /admin/audit?user=U&kind=K&limit=N.
func (a *api) listAudit(c *call) {
	c.action = "list_audit"
	f, problem := ParseAuditFilter(c.r.URL.Query())
	if problem != "" {
		c.fail(http.StatusBadRequest, "invalid_request", problem)
		return
	}
	if f.User != "" {
		c.set(slog.String("user", clip(f.User)))
	}
	if f.Kind != "" {
		c.set(slog.String("kind", f.Kind))
	}
	evs, err := a.auditLog.ListAudit(c.r.Context(), f)
	if err != nil {
		c.unavailable(err)
		return
	}
	out := make([]AuditEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, AuditView(e))
	}
	c.set(slog.Int("count", len(out)))
	c.ok(AuditList{Events: out})
}
