package main

import (
	"context"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// auditTimeout bounds one audit append, apart from the request's context
// (an event is kept even when its client has gone).
const auditTimeout = time.Second

// auditRecorder keeps audit events in the store's audit trail and counts
// them in gatehouse_audit_events_total. The log lines stay where they
// were written; a failed append is logged here and never fails the caller.
type auditRecorder struct{ s *server }

func (s *server) auditor() auth.Auditor { return auditRecorder{s} }

// auditLog is the store's audit trail; nil when the store keeps none.
func (s *server) auditLog() auth.AuditLog {
	a, _ := s.store.(auth.AuditLog)
	return a
}

// setAuditMax applies audit.max_events to the store.
func (s *server) setAuditMax(n int) {
	if a, ok := s.store.(interface{ SetAuditMax(int) }); ok {
		a.SetAuditMax(n)
	}
}

func (a auditRecorder) Audit(ctx context.Context, e auth.AuditEvent) {
	a.s.m.CountAudit(e.Kind)
	l := a.s.auditLog()
	if l == nil {
		return
	}
	e.User, e.Actor, e.IP = httpx.Clip(e.User), httpx.Clip(e.Actor), httpx.Clip(e.IP)
	e.Detail, e.RequestID = httpx.Clip(e.Detail), httpx.Clip(e.RequestID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := l.AppendAudit(ctx, e); err != nil {
		a.s.log.WarnContext(ctx, "audit event not kept", "kind", e.Kind, "error", err)
	}
}
